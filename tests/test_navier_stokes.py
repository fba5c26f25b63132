"""problems.NavierStokes against exact solutions, an independent method-of-lines solve
and the energy / enstrophy balances."""

import math

import h5py
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from problems import NavierStokes
from problems.navier_stokes import fno_forcing
from sciml.pde import time_derivative

DT = torch.float64
PI = math.pi


def _modes(s, pairs, phases):
    """sum_j cos(2 pi (m_j . x) + phase_j), a zero-mean field of Laplacian eigenmodes."""
    problem = NavierStokes(resolution=s, forcing=None)
    x, y = problem.spectral.coordinates(DT)
    return sum(torch.cos(2 * PI * (m[0] * x + m[1] * y) + p) for m, p in zip(pairs, phases))


def test_decaying_single_mode_is_exact_to_1e_10():
    """w0 = sin(2 pi x) sin(2 pi y): advection vanishes, w = w0 exp(-8 pi^2 nu t). CN's
    per-step error relative to exp(z) is z^3/12 with z = -8 pi^2 nu dt = -7.9e-5: 1000
    steps give 4e-11 (measured 3.8e-11 at 64^2, nu = 1e-3, t = 1, dt = 1e-3)."""
    problem = NavierStokes(resolution=64, forcing=None, viscosity=1e-3, t_end=1.0, n_times=3, dt=1e-3)
    x, y = problem.spectral.coordinates(DT)
    w0 = torch.sin(2 * PI * x) * torch.sin(2 * PI * y)
    w = problem.solve(w0[None])[0]
    exact = torch.stack([w0 * math.exp(-8 * PI**2 * 1e-3 * t) for t in (0.0, 0.5, 1.0)])
    assert (w - exact).abs().max() < 1e-10


def test_taylor_green_and_same_shell_modes_decay_exactly():
    """Any combination of modes with one |k| (here |m|^2 = 25: (3, 4), (4, -3), (5, 0)) has
    psi proportional to w, so u . grad w = 0 and each mode decays as exp(-4 pi^2 |m|^2 nu t).
    The Taylor–Green vortex w = 2 (2 pi) cos(2 pi x) cos(2 pi y) is the |m|^2 = 2 case."""
    nu, t_end = 2e-3, 0.5
    w0 = _modes(32, [(3, 4), (4, -3), (5, 0)], [0.3, 1.1, -0.7])
    problem = NavierStokes(resolution=32, forcing=None, viscosity=nu, t_end=t_end, n_times=2, dt=1e-3,
                           stepper="cnrk4")
    assert problem.rhs(w0[None]).sub(-nu * 4 * PI**2 * 25 * w0).abs().max() < 1e-10
    w = problem.solve(w0[None])[0, -1]
    # only the CN sub-steps' error remains (z = -4 pi^2 25 nu dt = -2e-3 per step): measured 2.4e-8
    assert (w - w0 * math.exp(-4 * PI**2 * 25 * nu * t_end)).abs().max() < 5e-8
    x, y = problem.spectral.coordinates(DT)
    tg = 4 * PI * torch.cos(2 * PI * x) * torch.cos(2 * PI * y)
    w_tg = problem.solve(tg[None])[0, -1]
    assert (w_tg - tg * math.exp(-8 * PI**2 * nu * t_end)).abs().max() < 1e-9 * tg.abs().max()


def _numpy_rhs(s, nu):
    """An independent de-aliased pseudo-spectral right-hand side with numpy's complex FFTs."""
    m = np.fft.fftfreq(s, 1.0 / s)
    mx, my = np.meshgrid(m, m, indexing="ij")
    kx, ky = 2 * PI * mx, 2 * PI * my
    nyq = (np.abs(mx) == s // 2) | (np.abs(my) == s // 2)
    kx_odd, ky_odd = np.where(np.abs(mx) == s // 2, 0, kx), np.where(np.abs(my) == s // 2, 0, ky)
    k2 = kx**2 + ky**2
    inv = np.where(k2 > 0, 1 / np.where(k2 > 0, k2, 1), 0)
    keep = (np.abs(mx) <= s / 3) & (np.abs(my) <= s / 3)
    del nyq

    def rhs(t, flat):
        w_hat = np.fft.fft2(flat.reshape(s, s))
        psi = w_hat * inv
        u = np.fft.ifft2(1j * ky_odd * psi).real
        v = np.fft.ifft2(-1j * kx_odd * psi).real
        wx = np.fft.ifft2(1j * kx_odd * w_hat).real
        wy = np.fft.ifft2(1j * ky_odd * w_hat).real
        adv = np.fft.ifft2(keep * np.fft.fft2(u * wx + v * wy)).real
        return (-adv + np.fft.ifft2(-nu * k2 * w_hat).real).ravel()

    return rhs


@pytest.mark.parametrize("stepper", ["cnrk2", "cnrk4"])
def test_matches_an_independent_method_of_lines_solve(stepper):
    """Against scipy DOP853 (rtol 1e-12) on an independently written semi-discretisation
    (16^2, nu = 1e-2, t = 0.5, modes |m| <= 4 so the 2/3 band holds the whole state).
    Second order in dt for both; measured max errors at dt 1e-2 / 5e-3: 2.2e-3 / 5.6e-4 (cnrk2),
    3.6e-5 / 9.1e-6 (cnrk4: five stages with shorter Crank–Nicolson sub-steps, a 60x
    smaller second-order constant), against a solution of size ~15."""
    s, nu, t_end = 16, 1e-2, 0.5
    w0 = 3 * _modes(s, [(1, 0), (1, 2), (3, -1), (4, 4), (0, 2)], [0.1, 0.5, 2.0, -1.0, 0.7])
    ref = solve_ivp(_numpy_rhs(s, nu), (0, t_end), w0.numpy().ravel(), method="DOP853", rtol=1e-12,
                    atol=1e-12).y[:, -1].reshape(s, s)
    errors = []
    for dt in (1e-2, 5e-3):
        problem = NavierStokes(resolution=s, forcing=None, viscosity=nu, t_end=t_end, n_times=2, dt=dt,
                               stepper=stepper)
        errors.append(np.abs(problem.solve(w0[None])[0, -1].numpy() - ref).max())
    order = math.log2(errors[0] / errors[1])
    bound = {"cnrk2": 1e-3, "cnrk4": 2e-5}[stepper]
    assert errors[1] < bound and 1.8 < order < 2.2, (errors, order)


def test_inviscid_flow_conserves_energy_and_enstrophy():
    """nu = 0, no forcing, state in the 2/3 band: the truncated Galerkin system conserves
    E and Z exactly; the drift is the RK4 stepper's (measured ~1e-11 relative at dt 2e-3)."""
    s = 32
    problem = NavierStokes(resolution=s, forcing=None, viscosity=0.0, t_end=1.0, n_times=5, dt=2e-3,
                           stepper="cnrk4")
    w0 = problem.sample_inputs(2, generator=torch.Generator().manual_seed(0)).to(DT) * 20
    w0 = problem.spectral.ifft(problem.spectral.fft(w0) * problem.spectral.dealias_mask(DT))
    w = problem.solve(w0)
    E, Z = problem.energy(w), problem.enstrophy(w)
    assert (w[:, -1] - w0).abs().max() > 0.1 * w0.abs().max()  # the flow did evolve
    assert ((E - E[:, :1]).abs() / E[:, :1]).max() < 1e-8
    assert ((Z - Z[:, :1]).abs() / Z[:, :1]).max() < 1e-8


def test_viscous_energy_decay_is_minus_two_nu_enstrophy():
    """dE/dt by fourth-order differences of E over frames 0.004 apart vs -2 nu Z: measured
    1.8e-6 relative in the interior frames, 1.5e-5 with the one-sided end stencils (the
    difference stencils' error; the flow changes by ~10% over the window)."""
    s, nu = 32, 1e-2
    problem = NavierStokes(resolution=s, forcing=None, viscosity=nu, t_end=0.04, n_times=11, dt=1e-3)
    w = problem.solve(problem.sample_inputs(2, generator=torch.Generator().manual_seed(1)).to(DT) * 10)
    E, Z = problem.energy(w), problem.enstrophy(w)
    dE = time_derivative(E[..., None, None], 0.004)[..., 0, 0]
    rel = (dE + 2 * nu * Z).abs() / (2 * nu * Z)
    assert rel[:, 2:-2].max() < 5e-6 and rel.max() < 5e-5, rel


def test_residual_vanishes_on_solutions_and_not_on_perturbed_ones():
    s, nu = 32, 1e-3
    problem = NavierStokes(resolution=s, viscosity=nu, t_end=0.1, n_times=11, dt=1e-3)
    w = problem.solve(problem.sample_inputs(2, generator=torch.Generator().manual_seed(2)).to(DT))
    scale = problem.rhs(w).abs().max()
    r = problem.residual(w, 0.01)
    assert r.abs().max() < 1e-5 * scale, (r.abs().max(), scale)
    noisy = w + 1e-3 * torch.randn(w.shape, generator=torch.Generator().manual_seed(0), dtype=DT)
    assert problem.residual_norm(noisy, 0.01).min() > 100 * problem.residual_norm(w, 0.01).max()
    # exact decaying mode: only the fourth-order time differences remain
    decay = NavierStokes(resolution=s, forcing=None, viscosity=nu)
    x, y = decay.spectral.coordinates(DT)
    t = torch.linspace(0, 0.1, 11, dtype=DT)
    exact = torch.sin(2 * PI * x) * torch.sin(2 * PI * y) * torch.exp(-8 * PI**2 * nu * t)[:, None, None]
    assert decay.residual(exact, 0.01).abs().max() < 1e-9


def test_forced_flow_subsampling_and_forcing():
    problem = NavierStokes(resolution=16, solver_resolution=32, t_end=0.5, n_times=3, dt=5e-3)
    fine = NavierStokes(resolution=32, t_end=0.5, n_times=3, dt=5e-3)
    w0 = problem.sample_inputs(2, generator=torch.Generator().manual_seed(3))
    assert w0.shape == (2, 32, 32) and w0.mean(dim=(1, 2)).abs().max() < 1e-6
    coarse = problem.solve(w0)
    assert coarse.shape == (2, 3, 16, 16)
    assert torch.equal(coarse, fine.solve(w0)[..., ::2, ::2])
    f = fno_forcing(32)
    assert abs(f[3, 5].item() - 0.1 * (math.sin(2 * PI * 8 / 32) + math.cos(2 * PI * 8 / 32))) < 1e-14
    # forcing drives a zero initial state into the forcing's direction: w ~ t f for small t
    zero = torch.zeros(1, 32, 32, dtype=DT)
    w = fine.solve(zero)[0, 1]
    assert ((w - 0.25 * f).abs().max() / (0.25 * f.abs().max())) < 1e-2


def test_generate_round_trip_and_errors(tmp_path):
    problem = NavierStokes(resolution=16, t_end=0.2, n_times=3, dt=1e-2)
    path = problem.generate(3, tmp_path / "ns.h5", seed=1, chunk_size=2, progress=False)
    with h5py.File(path) as f:
        assert f["inputs"].shape == (3, 16, 16) and f["outputs"].shape == (3, 3, 16, 16)
        assert np.allclose(f["grid/t"][:], [0.0, 0.1, 0.2])
        assert np.allclose(f["outputs"][:, 0], f["inputs"][:], atol=1e-6)
    with pytest.raises(ValueError, match="multiple of resolution"):
        NavierStokes(resolution=24, solver_resolution=64)
    with pytest.raises(ValueError, match="unknown stepper"):
        NavierStokes(stepper="euler")
    with pytest.raises(ValueError, match="unknown forcing"):
        NavierStokes(forcing="kolmogorov")
    with pytest.raises(ValueError, match=r"shape \(n, 16, 16\)"):
        problem.solve(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="T >= 5"):
        problem.residual(torch.zeros(1, 3, 16, 16), 0.1)


def test_energy_spectrum_sums_to_the_energy_and_locates_a_mode():
    problem = NavierStokes(resolution=32)
    x, y = torch.meshgrid(torch.arange(32) / 32, torch.arange(32) / 32, indexing="ij")
    single = torch.sin(2 * math.pi * (3 * x + 4 * y)).double()  # |m| = 5
    k, spectrum = problem.energy_spectrum(single)
    assert int(k[spectrum.argmax()]) == 5
    torch.testing.assert_close(spectrum.sum(), problem.energy(single))
    w = problem.sample_inputs(3, torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(problem.energy_spectrum(w)[1].sum(-1), problem.energy(w))


def test_time_derivative_converges_at_fourth_order_on_every_stencil():
    """d/dt of sin(3 t + 1) on [0, 1] sampled with T frames: the max error at the interior,
    second and first frames each falls 16x per halving of dt (slope 4 in log-log; measured
    4.00 interior, 4.09-4.15 at the end stencils), and ``axis`` picks the time axis."""
    errors = {"interior": [], "second": [], "first": []}
    for T in (21, 41, 81):
        t = torch.linspace(0.0, 1.0, T, dtype=DT)
        frames = torch.sin(3 * t + 1)[:, None].expand(T, 2)  # time first: axis 0
        d = time_derivative(frames, float(t[1] - t[0]), axis=0)[:, 0]
        err = (d - 3 * torch.cos(3 * t + 1)).abs()
        errors["interior"].append(float(err[2:-2].max()))
        errors["second"].append(float(torch.maximum(err[1], err[-2])))
        errors["first"].append(float(torch.maximum(err[0], err[-1])))
    for where, e in errors.items():
        slopes = [math.log2(a / b) for a, b in zip(e[:-1], e[1:])]
        assert all(3.8 < s < 4.2 for s in slopes), (where, e, slopes)
    quartic = torch.linspace(0.0, 1.0, 6, dtype=DT) ** 4  # degree 4: every stencil is exact
    torch.testing.assert_close(time_derivative(quartic, 0.2, axis=-1), 4 * torch.linspace(0.0, 1.0, 6, dtype=DT) ** 3)
    with pytest.raises(ValueError, match="T >= 5"):
        time_derivative(torch.zeros(4, 3), 0.1, axis=0)


def test_at_resolution_solves_the_same_flow_on_another_grid():
    problem = NavierStokes(resolution=16, solver_resolution=32, t_end=0.2, n_times=3, dt=1e-2, forcing=None)
    direct = problem.at_resolution(16)
    assert (direct.resolution, direct.solver_resolution) == (16, 16)
    same = {k: v for k, v in problem.parameters().items() if k not in ("resolution", "solver_resolution")}
    assert {k: v for k, v in direct.parameters().items() if k not in ("resolution", "solver_resolution")} == same
    assert direct.at_resolution(16) is direct
    w0 = direct.sample_inputs(2, torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(direct.solver_stepper()(w0[:, None])[:, 0], direct.solve(w0)[:, 1])
    custom = NavierStokes(resolution=8, solver_resolution=16, forcing=torch.zeros(16, 16))
    with pytest.raises(ValueError, match="custom forcing"):
        custom.at_resolution(8)
