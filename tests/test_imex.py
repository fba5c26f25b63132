"""IMEX Crank--Nicolson / Runge--Kutta steppers (sciml/pde/_imex.py).

Orders by slope fit on u' = lambda u + mu u (lambda implicit, mu explicit) and on a
linear oscillator (lambda = 3i implicit, mu = -2i explicit): all schemes are second
order when coupled (measured slopes 1.98-2.01 over dt = 1/20 .. 1/160); the explicit
part alone (lambda = 0) has the RK order: 2 (Heun), 3 (Williamson, measured 2.98),
4 (Carpenter--Kennedy, measured 3.99). With N = 0 a step is exactly the CN factor
(RK2) or the product of CN sub-step factors (low-storage schemes). Stiff lambda dt
= -1e4 stays bounded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.pde import (
    CrankNicolsonRK2,
    LowStorageCNRK,
    crank_nicolson_rk2,
    crank_nicolson_rk3,
    crank_nicolson_rk4,
    rollout,
    saved_states,
)

SCHEMES = {"rk2": crank_nicolson_rk2, "rk3": crank_nicolson_rk3, "rk4": crank_nicolson_rk4}
C128 = torch.complex128


def fit_order(ns, errors) -> float:
    return float(-np.polyfit(np.log(ns), np.log(errors), 1)[0])


def scalar_errors(make, lam, mu, ns=(20, 40, 80, 160), T=1.0):
    errors = []
    for n in ns:
        stepper = make(torch.tensor(lam, dtype=C128), lambda u: mu * u, T / n)
        u = rollout(stepper, torch.ones(2, dtype=C128), n, n)[-1]
        errors.append(float((u - complex(np.exp((lam + mu) * T))).abs().max()))
    return list(ns), errors


@pytest.mark.parametrize("name", list(SCHEMES))
@pytest.mark.parametrize("lam, mu", [(-5.0, 1.0), (3j, -2j)], ids=["decay", "oscillator"])
def test_coupled_scheme_is_second_order(name, lam, mu):
    ns, errors = scalar_errors(SCHEMES[name], lam, mu)
    assert abs(fit_order(ns, errors) - 2.0) < 0.2, errors


@pytest.mark.parametrize("name, order", [("rk2", 2), ("rk3", 3), ("rk4", 4)])
def test_explicit_part_alone_has_the_rk_order(name, order):
    ns, errors = scalar_errors(SCHEMES[name], 0.0, 1.0)
    assert abs(fit_order(ns, errors) - order) < 0.2, errors


@pytest.mark.parametrize("name", list(SCHEMES))
def test_linear_part_alone_is_crank_nicolson(name):
    lam = torch.tensor([-1e4, -3.0, 2.5j, -0.5 + 4j, 0.0], dtype=C128)
    dt = 0.1
    stepper = SCHEMES[name](lam, lambda u: torch.zeros_like(u), dt)
    u0 = torch.ones(5, dtype=C128)
    u1 = stepper(u0)
    z = lam * dt
    torch.testing.assert_close(u1, stepper.amplification(z) * u0, rtol=1e-14, atol=1e-14)
    if name == "rk2":
        torch.testing.assert_close(u1, (1 + z / 2) / (1 - z / 2), rtol=1e-14, atol=1e-14)
    else:  # composition of CN sub-steps of lengths (alpha_{k+1} - alpha_k) dt
        expected = torch.ones_like(z)
        for a0, a1 in zip(stepper.alphas[:-1], stepper.alphas[1:]):
            w = (a1 - a0) * z / 2
            expected = expected * (1 + w) / (1 - w)
        torch.testing.assert_close(u1, expected, rtol=1e-14, atol=1e-14)
    # A-stable: no mode with Re(L) <= 0 grows
    assert bool((u1.abs() <= 1 + 1e-14).all())


@pytest.mark.parametrize("name", list(SCHEMES))
def test_very_stiff_linear_part_does_not_blow_up(name):
    dt = 1e-2
    lam = torch.tensor([-1e4 / dt, -1e2 / dt, -1.0], dtype=torch.float64)
    stepper = SCHEMES[name](lam, lambda u: 1.0 * u.sin(), dt)  # Lipschitz-1 explicit part
    traj = rollout(stepper, torch.ones(4, 3, dtype=torch.float64), 1000, 100)
    assert bool(torch.isfinite(traj).all())
    assert float(traj[:, :, :2].abs().max()) <= 1.0 + 1e-12  # the stiff modes never grow


@pytest.mark.parametrize("name", list(SCHEMES))
def test_fourier_advection_diffusion(name):
    """u_t = nu u_xx - c u_x on a periodic grid: L = -nu k^2 (implicit), N = -i c k u_hat
    (explicit); every Fourier mode is multiplied by exp((-nu k^2 - i c k) t)."""
    n, nu, c, T, steps = 32, 0.05, 1.0, 0.5, 200
    k = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64) * 2 * math.pi
    x = torch.arange(n, dtype=torch.float64) / n
    u0 = torch.stack([torch.sin(2 * math.pi * x), torch.cos(4 * math.pi * x) + 0.3 * torch.sin(6 * math.pi * x)])
    u0_hat = torch.fft.rfft(u0)
    stepper = SCHEMES[name](-nu * k ** 2, lambda uh: -1j * c * k * uh, T / steps)
    u_hat = rollout(stepper, u0_hat, steps, steps)[-1]
    exact = u0_hat * torch.exp((-nu * k ** 2 - 1j * c * k) * T)
    err = float((torch.fft.irfft(u_hat, n=n) - torch.fft.irfft(exact, n=n)).abs().max())
    assert err < 5e-4, err


def test_rollout_saves_every_n_and_keeps_dtype():
    stepper = crank_nicolson_rk2(torch.tensor([-1.0, -2.0]), lambda u: -u * u, 0.1)
    u0 = torch.ones(3, 2, dtype=torch.float32)
    traj = rollout(stepper, u0, 10, 5)
    assert traj.shape == (3, 3, 2) and traj.dtype == torch.float32
    torch.testing.assert_close(traj[1], stepper(stepper(stepper(stepper(stepper(u0))))))


def test_rollout_watches_every_step_and_stops_when_a_state_is_refused():
    """``accept`` sees every step, ``on_save`` every kept state; a refused state is dropped
    with everything after it (the simulation loop's blow-up stop)."""
    seen, saved = [], []

    def accept(i, u):
        seen.append(i)
        return float(u.max()) < 2.0 ** 5

    traj = rollout(lambda u: 2 * u, torch.ones(2), 8, 2, accept=accept, on_save=lambda i, u: saved.append(i))
    assert seen == [1, 2, 3, 4, 5] and saved == [0, 2, 4]  # step 5 reaches 2^5 and is refused
    torch.testing.assert_close(traj, torch.tensor([[1.0, 1.0], [4.0, 4.0], [16.0, 16.0]]))
    assert saved_states(8, 2) == 5 and saved_states(0) == 1


def test_invalid_inputs_name_the_fix():
    with pytest.raises(ValueError, match="dt must be"):
        crank_nicolson_rk2(torch.tensor([-1.0]), lambda u: u, 0.0)
    with pytest.raises(TypeError, match="nonlinear must be callable"):
        crank_nicolson_rk4(torch.tensor([-1.0]), 3.0, 0.1)
    with pytest.raises(ValueError, match="multiple of save_every"):
        rollout(lambda u: u, torch.ones(1), 10, 3)
    with pytest.raises(ValueError, match="len\\(alphas\\)"):
        LowStorageCNRK(torch.tensor([-1.0]), lambda u: u, 0.1, alphas=(0.0, 1.0), betas=(0.0, 0.0), gammas=(1.0,))
    with pytest.raises(ValueError, match="singular"):
        CrankNicolsonRK2(torch.tensor([2.0]), lambda u: u, 1.0).step(torch.ones(1))
