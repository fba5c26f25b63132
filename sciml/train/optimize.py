"""Minimise a scalar loss of a few tensors: the optimisation loop that fine-tuning and
inverse problems share (training on a data set goes through :class:`~sciml.train.Trainer`).

:func:`minimize` runs ``steps`` iterations of

* ``method="adam"``: ``torch.optim.Adam``, one evaluation of ``objective()`` and its
  gradient per step; a run that uses up its steps ends with one more evaluation
  (without gradient) at the returned parameters, so ``history`` always has
  ``iterations + 1`` losses and its last entry is the loss of the result;
* ``method="lbfgs"``: :class:`~sciml.train.lbfgs.LBFGS` (strong-Wolfe line search),
  ``steps`` its ``max_iter``, ``lr`` its initial step; ``history`` has one loss per
  evaluation, the line search's included, and ends with the evaluation at the final
  point that decides the stop reason.

Stop reasons (``Minimization.stop_reason``), the vocabulary of :mod:`sciml.train.lbfgs`:

* ``"max_iter"``: ``steps`` iterations were run (not converged);
* ``"tolerance_grad"``: ``max |grad| <= tolerance_grad``;
* ``"tolerance_change"``: the loss changed by less than ``tolerance_change`` between two
  iterates (L-BFGS: or the last step moved no parameter by more than it);
* ``"non_finite"``: the loss (L-BFGS: or its gradient) is inf or nan; this is a stop
  reason, not an exception (also when the objective is nan at the start, in which case
  no step is taken and ``iterations == 0``): check ``stop_reason`` or ``converged``;
* L-BFGS only: ``"max_eval"`` and ``"no_descent"``.

Adam checks the tolerances and finiteness before each step and stops without taking it.

The tolerances default to 0, which never stops Adam early.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from sciml.validation import ArgumentTypeError, check_callable, check_choice, check_int, check_real

from .lbfgs import CONVERGED, LBFGS

__all__ = ["METHODS", "Minimization", "minimize"]

METHODS = ("adam", "lbfgs")


@dataclass
class Minimization:
    """What :func:`minimize` returns."""

    loss: float           # the loss at the returned parameters
    history: list[float]  # the loss of every evaluation, in order
    iterations: int       # optimiser steps (L-BFGS: its iterations)
    evaluations: int      # calls of the objective (= len(history))
    stop_reason: str      # see the module docstring
    wall_time: float      # seconds

    @property
    def converged(self) -> bool:
        """True when a tolerance (not the step budget or a non-finite loss) ended the run."""
        return self.stop_reason in CONVERGED


def _check_params(params) -> list:
    """``params`` as a non-empty list of tensors or parameter groups (dicts with ``"params"``)."""
    if isinstance(params, torch.Tensor) or not isinstance(params, Iterable):
        raise ArgumentTypeError(f"params must be a list of tensors (or parameter groups), got "
                                f"{type(params).__name__}; e.g. minimize(objective, [z]) or model.parameters()")
    params = list(params)
    if not params:
        raise ValueError("params is empty: pass the tensors to optimise, e.g. [z] with z.requires_grad_(True), "
                         "or model.parameters() of a model that has parameters")
    for i, p in enumerate(params):
        if isinstance(p, dict):
            if "params" not in p:
                raise ValueError(f"params[{i}] is a parameter group without a 'params' entry")
        elif not isinstance(p, torch.Tensor):
            raise ArgumentTypeError(f"params[{i}] must be a tensor or a parameter group (dict), got "
                                    f"{type(p).__name__}")
        elif not p.requires_grad:
            raise ValueError(f"params[{i}] does not require grad, so it cannot be optimised; call "
                             f".requires_grad_(True) on it")
    return params


def minimize(objective: Callable[[], torch.Tensor], params: Iterable, *, method: str = "adam", steps: int = 100,
             lr: float = 1e-3, tolerance_grad: float = 0.0, tolerance_change: float = 0.0,
             callback: Callable[[int, float], None] | None = None) -> Minimization:
    """Minimise ``objective()`` (a scalar tensor computed from ``params``) in place.

    Args:
        objective: called without arguments; returns the loss. The gradient is taken here
            (do not call ``backward`` in it); it may record anything else it computes.
        params: tensors with ``requires_grad``, or parameter groups (dicts with
            ``"params"`` and their own ``"lr"``) as every torch optimiser takes them
            (L-BFGS: one group).
        method: ``"adam"`` or ``"lbfgs"`` (the module docstring).
        steps: the iteration budget.
        lr: the learning rate (Adam) or initial step length (L-BFGS), for groups without one.
        tolerance_grad, tolerance_change: the stopping tolerances (module docstring).
        callback: ``callback(step, loss)`` after each Adam step (``loss`` evaluated before
            it); L-BFGS runs its iterations inside one call and takes no callback.
    """
    check_callable("objective", objective, "objective() -> scalar loss")
    method = check_choice("method", method, METHODS)
    steps = check_int("steps", steps)
    lr = check_real("lr", lr, positive=True)
    tolerance_grad = check_real("tolerance_grad", tolerance_grad, nonnegative=True)
    tolerance_change = check_real("tolerance_change", tolerance_change, nonnegative=True)
    if callback is not None:
        check_callable("callback", callback, "callback(step, loss)")
        if method == "lbfgs":
            raise ValueError("callback is called after each Adam step; L-BFGS runs its iterations in one call, "
                             "so pass callback=None with method='lbfgs'")
    params = _check_params(params)
    history: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        history.append(float(loss.detach()))
        return loss

    start = time.perf_counter()
    if method == "lbfgs":
        optimizer = LBFGS(params, lr=lr, max_iter=steps, tolerance_grad=tolerance_grad,
                          tolerance_change=tolerance_change)
        optimizer.step(closure)
        iterations, stop = optimizer.iterations, optimizer.stop_reason
    else:
        optimizer = torch.optim.Adam(params, lr=lr)
        iterations, stop = 0, "max_iter"
        for _ in range(steps):
            closure()
            if not math.isfinite(history[-1]):
                stop = "non_finite"
                break
            if len(history) > 1 and abs(history[-1] - history[-2]) < tolerance_change:
                stop = "tolerance_change"
                break
            if tolerance_grad > 0 and _max_abs_grad(optimizer) <= tolerance_grad:
                stop = "tolerance_grad"
                break
            optimizer.step()
            iterations += 1
            if callback is not None:
                callback(iterations - 1, history[-1])
        else:  # the loss at the parameters of the last step
            with torch.no_grad():
                history.append(float(objective().detach()))
    return Minimization(history[-1], history, iterations, len(history), stop, time.perf_counter() - start)


def _max_abs_grad(optimizer: torch.optim.Optimizer) -> float:
    grads = [p.grad.abs().max() for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return float(torch.stack(grads).max()) if grads else 0.0
