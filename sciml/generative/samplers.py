"""Generative dynamics of a stochastic interpolant through the solver core.

* probability-flow ODE ``dX/dt = b(t, X)`` (:func:`sample_ode`, any core method);
* forward SDE ``dX = [b + eps s] dt + sqrt(2 eps) dW`` from ``t0`` up to ``t1``, and the
  backward one ``dX = [b - eps s] dt + sqrt(2 eps) dW^B`` from ``t1`` down to ``t0``
  (:func:`sample_sde`), with ``s = -eta / gamma`` from a denoiser or a score directly;
  ``eps(t)`` a number or a function of ``t`` (make it vanish at the ends when ``s`` is
  singular there);
* ``dX = drift dt + sigma dW`` for bridge-matching drifts (:func:`sample_diffusion`);
* the ODE log-likelihood by the instantaneous change of variables
  (:func:`ode_log_likelihood`): ``log rho_1(x) = log rho_0(X_0) - int_0^1 div b dt``,
  with the exact divergence (low dimension) or Hutchinson's estimator.
"""

from __future__ import annotations

from typing import Callable

import torch

from sciml.solvers import solve_ode, solve_sde
from sciml.validation import check_choice, check_int, check_real

__all__ = ["ode_log_likelihood", "sample_diffusion", "sample_ode", "sample_sde"]


def _time(t, x):
    return torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])


def sample_ode(b: Callable, x0: torch.Tensor, t0: float = 0.0, t1: float = 1.0, steps: int | None = None,
               method: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5, times=None):
    """``X(t1)`` (or the states at ``times``) of ``dX/dt = b(t, X)`` from ``X(t0) = x0``
    ``(batch, d)``; ``b`` is called with per-sample times ``(batch,)``. ``steps`` switches to
    a fixed-step method (``method`` then e.g. ``"rk4"`` or ``"heun"``)."""
    ts = torch.tensor([t0, t1] if times is None else list(times), dtype=x0.dtype, device=x0.device)
    kwargs = dict(rtol=rtol, atol=atol) if steps is None else dict(dt=abs(t1 - t0) / steps)
    sol = solve_ode(lambda t, x: b(_time(t, x), x), x0, ts, method=method, **kwargs)
    return sol.ys if times is not None else sol.ys[-1]


class _Diffusion:
    """``dX = drift(t, X) dt + diffusion(t) dW`` (diagonal Itô noise, one level for all
    components); both get the solver's time ``t`` as it comes (a 0-dim tensor)."""
    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, drift, diffusion):
        self.drift, self.diffusion = drift, diffusion

    def f(self, t, x):
        return self.drift(t, x)

    def g(self, t, x):
        return torch.ones_like(x) * self.diffusion(t)


def _solve(sde, x0, t0, t1, steps, method, seed, times):
    steps = check_int("steps", steps)
    ts = torch.tensor([t0, t1] if times is None else list(times), dtype=x0.dtype, device=x0.device)
    sol = solve_sde(sde, x0, ts, method=method, dt=abs(t1 - t0) / steps, seed=seed)
    return sol.ys if times is not None else sol.ys[-1]


def sample_sde(b: Callable, x0: torch.Tensor, eps: float | Callable = 0.5, score: Callable | None = None,
               eta: Callable | None = None, gamma: Callable | None = None, t0: float = 1e-4, t1: float = 1 - 1e-4,
               steps: int = 200, method: str = "euler", seed: int | None = None, times=None,
               direction: str = "forward"):
    """``X(t1)`` of the generative SDE of a stochastic interpolant from ``X(t0) = x0``.

    ``direction="forward"``: ``dX = [b + eps s] dt + sqrt(2 eps) dW`` from ``t0`` up to
    ``t1``, taking ``rho_0`` to ``rho_1``; ``"backward"``: ``dX = [b - eps s] dt + sqrt(2 eps)
    dW^B`` from ``t1`` down to ``t0`` (pass ``t0 > t1``: the sampler runs from ``t0`` to
    ``t1`` in either case), taking ``rho_1`` to ``rho_0``. Solved in reversed time
    ``tau = -t`` as the forward SDE ``dZ = -[b - eps s](-tau, Z) dtau + sqrt(2 eps) dW``.

    ``s`` is ``score(t, x)``, or ``-eta(t, x) / gamma(t)`` from a denoiser and the
    interpolant's ``gamma`` (e.g. ``lambda t: interpolant.coefficients(t)[2]``); the
    default ends ``[1e-4, 1 - 1e-4]`` avoid ``gamma = 0`` (paper Sec. 7.2)."""
    check_choice("direction", direction, ("forward", "backward"))
    if score is None:
        if eta is None or gamma is None:
            raise ValueError("give score(t, x), or eta(t, x) together with gamma(t)")

        def score(t, x):
            return -eta(t, x) / gamma(t).reshape(-1, *([1] * (x.dim() - 1))).clamp_min(1e-12)

    eps_fn = eps if callable(eps) else (lambda t, e=float(eps): e)
    if direction == "forward":
        if not t1 > t0:
            raise ValueError(f"the forward SDE runs up in time: need t1 > t0, got t0={t0}, t1={t1}")
        def drift(t, x):
            tt = _time(t, x)
            return b(tt, x) + eps_fn(t) * score(tt, x)

        return _solve(_Diffusion(drift, lambda t: (2 * eps_fn(t)) ** 0.5), x0, t0, t1, steps, method, seed, times)
    if not t0 > t1:
        raise ValueError(f"the backward SDE runs down in time: need t0 > t1, got t0={t0}, t1={t1}")

    def reversed_drift(tau, x):
        tt = _time(-tau, x)
        return eps_fn(-tau) * score(tt, x) - b(tt, x)

    sde = _Diffusion(reversed_drift, lambda tau: (2 * eps_fn(-tau)) ** 0.5)
    return _solve(sde, x0, -t0, -t1, steps, method, seed, None if times is None else [-float(v) for v in times])


def sample_diffusion(drift: Callable, x0: torch.Tensor, sigma: float, t0: float = 0.0, t1: float = 1.0,
                     steps: int = 100, method: str = "euler", seed: int | None = None, times=None):
    """``X(t1)`` (or the states at ``times``) of ``dX = drift(t, X) dt + sigma dW`` from
    ``X(t0) = x0`` ``(batch, d)``: e.g. a bridge-matching drift with its reference's
    ``sigma``. ``drift`` receives per-sample times ``(batch,)``."""
    sigma = check_real("sigma", sigma, positive=True)
    return _solve(_Diffusion(lambda t, x: drift(_time(t, x), x), lambda t, s=float(sigma): s), x0, t0, t1, steps,
                  method, seed, times)


def _divergence(b, t, x, probe=None):
    """``(b(t, x), div_x b)``: the exact trace (one backward pass per dimension), or
    Hutchinson's ``probe . (J probe)`` when a ``probe`` is given."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = b(t, x)
        if probe is not None:
            (vjp,) = torch.autograd.grad(out, x, probe)
            return out.detach(), (vjp * probe).sum(-1)
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(x.shape[-1]):
            (row,) = torch.autograd.grad(out[:, i].sum(), x, retain_graph=i + 1 < x.shape[-1])
            div = div + row[:, i]
        return out.detach(), div


def ode_log_likelihood(b: Callable, x1: torch.Tensor, log_rho0: Callable, t0: float = 0.0, t1: float = 1.0,
                       hutchinson: bool = False, steps: int = 100, seed: int = 0) -> torch.Tensor:
    """``log rho_1(x1)`` ``(batch,)`` under the flow of ``b``: integrate ``X`` and
    ``int div b`` backwards from ``t1`` to ``t0`` (fixed-step RK4, ``steps`` steps) and
    add ``log_rho0(X_0)``. Exact divergence by ``d`` backward passes, or Hutchinson's
    Gaussian estimator (one probe per sample, fixed over the path)."""
    generator = torch.Generator(device=x1.device).manual_seed(seed)
    probe = None
    if hutchinson:
        probe = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=x1.device)

    def field(t, state):
        x, _ = state
        out, div = _divergence(b, _time(t, x), x, probe)
        return out, div.unsqueeze(-1)

    with torch.no_grad():
        state = (x1, torch.zeros(x1.shape[0], 1, dtype=x1.dtype, device=x1.device))
        ts = torch.tensor([t1, t0], dtype=x1.dtype, device=x1.device)
        xs, integral = solve_ode(field, state, ts, method="rk4", dt=abs(t1 - t0) / steps).ys
    # integral(t0) = int_{t1}^{t0} div b dt = -int_{t0}^{t1} div b dt
    return log_rho0(xs[-1]) + integral[-1, :, 0]
