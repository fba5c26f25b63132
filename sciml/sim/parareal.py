"""Parareal: a cheap propagator's prediction refined by an accurate solver, in parallel
over time.

With a coarse propagator ``G`` (a trained operator, or a coarse solver) and a fine one
``F`` (the solver), both steppers over the same ``dt``, parareal (Lions, Maday &
Turinici 2001) iterates

    U^{k+1}_{n+1} = G(U^{k+1}_n) + F(U^k_n) - G(U^k_n),        U^0_{n+1} = G(U^0_n).

The fine steps of one iteration are independent, so they run as one batch over all time
slices (on a GPU that is the parallel-in-time speed-up); only the cheap ``G`` is
sequential. After ``k`` iterations the first ``k`` states equal the fine solver's exactly,
and the iteration stops earlier once the largest relative change falls below ``tol``.
A learned ``G`` that is accurate makes that happen in few iterations (Ibrahim et al.,
"Parareal with a learned coarse model", 2023).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from sciml.pde import Stepper, check_states, rollout
from sciml.validation import check_int, check_real

__all__ = ["PararealResult", "parareal"]


@dataclass
class PararealResult:
    states: torch.Tensor       # (n_steps + 1, batch, ...)
    iterations: int
    changes: list[float]       # max relative change of the trajectory per iteration
    coarse_seconds: float      # sequential G sweeps
    fine_seconds: float        # batched F sweeps (parallel over time slices)
    converged: bool


def _relative_change(new: torch.Tensor, old: torch.Tensor) -> float:
    diff = (new - old).flatten(2).norm(dim=-1)
    return float((diff / old.flatten(2).norm(dim=-1).clamp_min(torch.finfo(old.dtype).tiny)).max())


@torch.no_grad()
def parareal(coarse: Stepper, fine: Stepper, u0: torch.Tensor, n_steps: int, iterations: int | None = None,
             tol: float = 1e-8) -> PararealResult:
    """Parareal from ``u0`` ``(batch, channels, *space)`` over ``n_steps`` steps of ``dt``.

    ``iterations``: at most this many corrections (default ``n_steps``, after which the
    result is the fine solution).
    """
    check_states(u0, "parareal")
    for name, stepper in (("coarse", coarse), ("fine", fine)):
        if not isinstance(stepper, Stepper):
            raise TypeError(f"parareal: {name} must be a stepper (callable with a dt attribute), got "
                            f"{type(stepper).__name__}")
    tol = check_real("tol", tol, nonnegative=True)
    if abs(float(coarse.dt) - float(fine.dt)) > 1e-12 * max(1.0, float(fine.dt)):
        raise ValueError(f"coarse and fine steppers must advance the same time, got dt {coarse.dt} and {fine.dt}")
    n_steps = check_int("n_steps", n_steps)
    iterations = n_steps if iterations is None else check_int("iterations", iterations, minimum=0, maximum=n_steps)
    batch = u0.shape[0]
    t_coarse = t_fine = 0.0
    start = time.perf_counter()
    states = rollout(coarse, u0, n_steps)
    G_prev = list(states[1:])
    t_coarse += time.perf_counter() - start
    changes, converged = [], False
    for k in range(iterations):
        start = time.perf_counter()
        F = fine(states[:-1].flatten(0, 1)).unflatten(0, (n_steps, batch))
        t_fine += time.perf_counter() - start
        start = time.perf_counter()
        U, G_new = [u0], []
        for n in range(n_steps):
            if n <= k:  # these slices already carry the fine solution: the correction is exact
                G_new.append(G_prev[n])
                U.append(F[n])
            else:
                G_new.append(coarse(U[n]))
                U.append(G_new[n] + F[n] - G_prev[n])
        t_coarse += time.perf_counter() - start
        new = torch.stack(U)
        changes.append(_relative_change(new[1:], states[1:]))
        states, G_prev = new, G_new
        if changes[-1] <= tol or k + 1 == n_steps:
            converged = True
            break
    return PararealResult(states, len(changes), changes, t_coarse, t_fine, converged)
