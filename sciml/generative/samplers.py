"""Generative dynamics of a stochastic interpolant through the solver core.

* probability-flow ODE ``dX/dt = b(t, X)`` (:func:`sample_ode`, any core method);
* forward SDE ``dX = [b + eps s] dt + sqrt(2 eps) dW`` from ``t0`` to ``t1``
  (:func:`sample_sde`), with ``s = -eta / gamma`` from a denoiser or a score directly;
  ``eps(t)`` a number or a function of ``t`` (make it vanish at the ends when ``s`` is
  singular there);
* the ODE log-likelihood by the instantaneous change of variables
  (:func:`ode_log_likelihood`): ``log rho_1(x) = log rho_0(X_0) - int_0^1 div b dt``,
  with the exact divergence (low dimension) or Hutchinson's estimator.
"""

from __future__ import annotations

from typing import Callable

import torch

from sciml.solvers import solve_ode, solve_sde

__all__ = ["ode_log_likelihood", "sample_ode", "sample_sde"]


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


class _ForwardSDE:
    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, b, score, eps):
        self.b, self.score, self.eps = b, score, eps

    def f(self, t, x):
        tt = _time(t, x)
        return self.b(tt, x) + self.eps(float(t)) * self.score(tt, x)

    def g(self, t, x):
        return torch.full_like(x, (2 * self.eps(float(t))) ** 0.5)


def sample_sde(b: Callable, x0: torch.Tensor, eps: float | Callable = 0.5, score: Callable | None = None,
               eta: Callable | None = None, gamma: Callable | None = None, t0: float = 1e-4, t1: float = 1 - 1e-4,
               steps: int = 200, method: str = "euler", seed: int | None = None, times=None):
    """``X(t1)`` of ``dX = [b + eps s] dt + sqrt(2 eps) dW`` from ``X(t0) = x0``.

    ``s`` is ``score(t, x)``, or ``-eta(t, x) / gamma(t)`` from a denoiser and the
    interpolant's ``gamma`` (e.g. ``lambda t: interpolant.coefficients(t)[2]``); the
    default ends ``[1e-4, 1 - 1e-4]`` avoid ``gamma = 0`` (paper Sec. 7.2)."""
    if score is None:
        if eta is None or gamma is None:
            raise ValueError("give score(t, x), or eta(t, x) together with gamma(t)")

        def score(t, x):
            return -eta(t, x) / gamma(t).reshape(-1, *([1] * (x.dim() - 1))).clamp_min(1e-12)

    eps_fn = eps if callable(eps) else (lambda t, e=float(eps): e)
    ts = torch.tensor([t0, t1] if times is None else list(times), dtype=x0.dtype, device=x0.device)
    sol = solve_sde(_ForwardSDE(b, score, eps_fn), x0, ts, method=method, dt=abs(t1 - t0) / steps, seed=seed)
    return sol.ys if times is not None else sol.ys[-1]


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
