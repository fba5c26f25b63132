"""sciml.sim: steppers, the simulation loop, parareal and hybrids, against the problems'
own solvers and repeated model calls."""

import math

import pytest
import torch

from problems import Burgers, NavierStokes
from sciml.operators import build_model
from sciml.pde import SpectralGrid
from sciml.sim import (CorrectedStepper, LearnedStepper, ResampledStepper, Simulation, SimulationError,
                       SolverStepper, Stepper, flow_diagnostics, parareal, relative_error)


@pytest.fixture(scope="module")
def ns():
    problem = NavierStokes(resolution=32, t_end=2.0, n_times=5, dt=5e-3)
    w0 = problem.sample_inputs(3, generator=torch.Generator().manual_seed(1)).double()
    return problem, w0


def test_classical_rollout_equals_the_solver(ns):
    problem, w0 = ns
    ref = problem.solve(w0)  # (n, T, s, s)
    stepper = problem.solver_stepper()
    assert isinstance(stepper, Stepper) and stepper.dt == pytest.approx(0.5)
    r = Simulation(stepper, flow_diagnostics(problem)).run(w0[:, None], 4, reference=ref.movedim(1, 0)[:, :, None])
    assert r.ok and r.steps == 4 and torch.allclose(r.times, torch.tensor([0, 0.5, 1.0, 1.5, 2.0], dtype=torch.float64))
    # the FFT round trip between calls is the only difference
    assert float((r.states[:, :, 0].movedim(0, 1) - ref).abs().max()) < 1e-13 * float(ref.abs().max())
    assert float(r.diagnostics["error"].max()) < 1e-13
    # diagnostics are the problem's own quantities of the saved states
    assert torch.allclose(r.diagnostics["energy"], problem.energy(r.states[:, :, 0]))
    k, spectrum = problem.energy_spectrum(r.states[-1, :, 0])
    assert torch.allclose(r.diagnostics["spectrum"][-1], spectrum)
    assert torch.allclose(r.diagnostics["spectrum"].sum(-1), r.diagnostics["energy"])
    mean = r.diagnostics["mean"]  # the mean vorticity (zero up to float32 rounding of w0) is conserved
    assert float((mean - mean[0]).abs().max()) < 1e-15 and float(mean.abs().max()) < 1e-9


def test_burgers_classical_rollout_and_save_every():
    problem = Burgers(resolution=64, n_times=5, t_end=0.4)
    u0 = problem.sample_inputs(2, generator=torch.Generator().manual_seed(0)).double()
    ref = problem.solve(u0)
    fine = problem.solver_stepper(problem.steps_per_output // 2)
    r = Simulation(fine).run(u0[:, None], 8, save_every=2)
    assert r.states.shape == (5, 2, 1, 64)
    assert float((r.states[:, :, 0].movedim(0, 1) - ref).abs().max()) < 1e-13 * float(ref.abs().max())


def test_solver_stepper_rejects_wrong_states(ns):
    problem, w0 = ns
    with pytest.raises(ValueError, match=r"vorticities \(batch, 1, 32, 32\)"):
        problem.solver_stepper()(w0[:, None, :16, :16])
    with pytest.raises(ValueError, match="substeps"):
        SolverStepper(lambda like: (lambda z: z), 0.1, substeps=0)
    with pytest.raises(ValueError, match="dt must be a positive"):
        SolverStepper(lambda like: (lambda z: z), -1.0)


def test_learned_rollout_equals_repeated_model_calls():
    torch.manual_seed(0)
    model = build_model({"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [6, 6],
                         "hidden_channels": 8}).eval()
    u0 = torch.randn(2, 1, 24, 24, dtype=torch.float64)
    for residual in (False, True):
        r = Simulation(LearnedStepper(model, dt=0.25, residual=residual)).run(u0, 6, save_every=3)
        u, expected = u0.float(), [u0.float()]
        with torch.no_grad():
            for i in range(6):
                u = u + model(u) if residual else model(u)
                if (i + 1) % 3 == 0:
                    expected.append(u)
        assert r.ok and r.states.dtype == torch.float64 and r.states.shape == (3, 2, 1, 24, 24)
        assert torch.equal(r.states.float(), torch.stack(expected).double().float())
        assert torch.allclose(r.times, torch.tensor([0.0, 0.75, 1.5], dtype=torch.float64))


def test_learned_stepper_checks_shapes():
    model = torch.nn.Conv2d(1, 2, 1)
    with pytest.raises(ValueError, match="same shape"):
        LearnedStepper(model, 0.1)(torch.zeros(1, 1, 4, 4))


class _Growth:
    """u -> factor * u; NaN from step ``nan_at`` on in sample 1."""

    def __init__(self, factor, nan_at=None):
        self.dt, self.factor, self.nan_at, self.calls = 0.1, factor, nan_at, 0

    def __call__(self, u):
        self.calls += 1
        out = self.factor * u
        if self.nan_at is not None and self.calls >= self.nan_at:
            out = out.clone()
            out[1, 0, 0] = float("nan")
        return out


def test_blow_up_stops_with_a_report_and_keeps_the_states():
    u0 = torch.ones(3, 1, 4)
    r = Simulation(_Growth(10.0), blowup_factor=1e3).run(u0, 10)
    # rms 10^k: step 3 reaches 1000 (not above), step 4 exceeds the factor
    assert r.status == "blow-up" and r.steps == 3 and r.states.shape[0] == 4
    assert "step 4 (t = 0.4)" in r.message and "3 of 3 samples" in r.message and "up to step 3" in r.message
    assert r.diagnostics["rms"].shape == (4, 3) and not r.ok


def test_nan_stops_and_raises_on_request():
    u0 = torch.ones(2, 1, 4)
    r = Simulation(_Growth(1.0, nan_at=5)).run(u0, 10, save_every=2)
    assert r.status == "non-finite" and r.steps == 4 and "samples [1]" in r.message
    assert r.states.shape[0] == 3  # steps 0, 2, 4
    with pytest.raises(SimulationError, match="inf or nan") as info:
        Simulation(_Growth(1.0, nan_at=2)).run(u0, 10, raise_on_failure=True)
    assert info.value.rollout.steps == 1


def test_run_input_errors():
    sim = Simulation(_Growth(1.0))
    with pytest.raises(ValueError, match="multiple of save_every"):
        sim.run(torch.ones(1, 1, 4), 5, save_every=2)
    with pytest.raises(ValueError, match="inf or nan"):
        sim.run(torch.full((1, 1, 4), float("nan")), 2)
    with pytest.raises(ValueError, match=r"reference must be \(3, 1, 1, \*space\)"):
        sim.run(torch.ones(1, 1, 4), 2, reference=torch.ones(2, 1, 1, 4))
    with pytest.raises(TypeError, match="Stepper protocol"):
        Simulation(lambda u: u)
    with pytest.raises(ValueError, match="reserved"):
        Simulation(_Growth(1.0), {"error": lambda u: u})


def test_reference_on_a_finer_grid_is_subsampled():
    u = torch.randn(2, 2, 1, 8, 8, dtype=torch.float64)
    fine = torch.randn(2, 2, 1, 16, 16, dtype=torch.float64)
    fine[..., ::2, ::2] = u

    class Hold:
        dt = 1.0

        def __call__(self, v):
            return u[1]

    r = Simulation(Hold()).run(u[0], 1, reference=fine)
    assert float(r.diagnostics["error"].max()) == 0.0


def _heat_stepper(n, nu=0.05, dt=0.1):
    """Exact heat flow on the unit torus in Fourier space (a linear, exactly resolvable step)."""
    grid = SpectralGrid((n, n))

    def make(like):
        decay = torch.exp(-nu * grid.k_squared(torch.float64, like.device) * dt)
        return lambda z: z * decay

    return SolverStepper(make, dt, encode=lambda u: grid.fft(u[:, 0]), decode=lambda z: grid.ifft(z).unsqueeze(1))


def _band_limited(n, batch=2, modes=3):
    grid = SpectralGrid((n, n))
    x, y = grid.coordinates(torch.float64)
    g = torch.Generator().manual_seed(3)
    u = torch.zeros(batch, 1, n, n, dtype=torch.float64)
    for p in range(-modes, modes + 1):
        for q in range(modes + 1):
            c = torch.randn(batch, 2, generator=g, dtype=torch.float64)
            phase = 2 * math.pi * (p * x + q * y)
            u += (c[:, :1, None] * torch.cos(phase) + c[:, 1:, None] * torch.sin(phase)).unsqueeze(1)
    return u


def test_resampled_and_corrected_steppers():
    u0 = _band_limited(32)
    fine = Simulation(_heat_stepper(32)).run(u0, 5)
    coarse = Simulation(ResampledStepper(_heat_stepper(8), (8, 8))).run(u0, 5, reference=fine.states)
    assert float(coarse.diagnostics["error"].max()) < 1e-13  # band-limited: the coarse grid is exact
    zero = torch.nn.Conv2d(1, 1, 1, bias=False).double()
    torch.nn.init.zeros_(zero.weight)
    corrected = Simulation(CorrectedStepper(_heat_stepper(32), zero)).run(u0, 5)
    assert torch.equal(corrected.states, fine.states)
    scale = torch.nn.Conv2d(1, 1, 1, bias=False).double()
    torch.nn.init.constant_(scale.weight, 0.5)
    one = CorrectedStepper(_heat_stepper(32), scale)(u0)
    assert torch.allclose(one, 1.5 * _heat_stepper(32)(u0))


def test_parareal_reaches_the_fine_solution(ns):
    problem, w0 = ns
    fine = problem.solver_stepper()
    coarse = ResampledStepper(NavierStokes(resolution=16, t_end=2.0, n_times=5, dt=5e-2).solver_stepper(), (16, 16))
    u0 = w0[:, None]
    ref = Simulation(fine).run(u0, 4).states
    # k iterations make the first k + 1 states exact
    two = parareal(coarse, fine, u0, 4, iterations=2, tol=0.0)
    assert two.iterations == 2 and not two.converged
    assert float((two.states[:3] - ref[:3]).abs().max()) < 1e-12
    assert float(relative_error(two.states[4], ref[4]).max()) > 1e-8
    # a good coarse propagator converges in fewer iterations than steps
    full = parareal(coarse, fine, u0, 4, tol=1e-9)
    assert full.converged and float((full.states - ref).abs().max()) < 1e-7 * float(ref.abs().max())
    assert full.changes[0] > full.changes[-1]
    with pytest.raises(ValueError, match="same time"):
        parareal(_heat_stepper(32, dt=0.2), fine, u0, 4)


def test_a_state_at_rest_is_not_a_blow_up():
    class Forced:
        dt = 1.0

        def __call__(self, u):
            return u + 1.0

    r = Simulation(Forced()).run(torch.zeros(2, 1, 4), 5)
    assert r.ok and float(r.diagnostics["rms"][-1, 0]) == 5.0


def test_correction_pairs_are_the_defect_of_the_base_step():
    from sciml.sim import correction_pairs

    u0 = _band_limited(16, batch=2)
    exact = Simulation(_heat_stepper(16)).run(u0, 3).states[:, :, 0].movedim(0, 1)  # (2, 4, 16, 16)
    inputs, targets = correction_pairs(_heat_stepper(16), exact, chunk=4)
    assert inputs.shape == targets.shape == (6, 1, 16, 16)
    assert float(targets.abs().max()) < 1e-13  # an exact base step leaves nothing to correct
    halved = _heat_stepper(16, nu=0.025)  # half the diffusion: the defect is the missing decay
    inputs, targets = correction_pairs(halved, exact)
    assert torch.allclose(inputs[1, 0], halved(exact[0, 1:2, None])[0, 0])
    assert torch.allclose(inputs + targets, exact[:, 1:].flatten(0, 1).unsqueeze(1))
    with pytest.raises(ValueError, match="T >= 2"):
        correction_pairs(halved, exact[:, :1])
