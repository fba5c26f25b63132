"""L-BFGS that says why it stopped.

``torch.optim.LBFGS.step`` returns silently whether it ran out of iterations or met a
tolerance, which is the most common confusion with L-BFGS in PINN codes ("it stops
after 30 iterations"). :class:`LBFGS` is the same optimiser (strong-Wolfe line search
by default) whose ``stop_reason`` after each ``step(closure)`` is one of:

* ``"max_iter"``: the iterations of this call were used up (not converged);
* ``"max_eval"``: the function evaluations of this call were used up;
* ``"tolerance_grad"``: ``max |grad| <= tolerance_grad`` (first-order optimality);
* ``"tolerance_change"``: the last step moved no parameter by more than
  ``tolerance_change``, or the loss changed by less than it;
* ``"no_descent"``: the search direction was not a descent direction (directional
  derivative above ``-tolerance_change``);
* ``"non_finite"``: the loss or gradient is inf or nan.

``converged`` is true for the tolerance reasons. Deciding costs one extra evaluation of
the closure at the final point per ``step`` call.
"""

from __future__ import annotations

import math

import torch

from sciml.validation import check_choice, check_int, check_real

__all__ = ["LBFGS"]

CONVERGED = ("tolerance_grad", "tolerance_change", "no_descent")


class LBFGS(torch.optim.LBFGS):
    """``torch.optim.LBFGS`` with ``stop_reason`` (see the module docstring); the line
    search defaults to ``"strong_wolfe"``."""

    def __init__(self, params, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = "strong_wolfe"):
        lr = check_real("lr", lr, positive=True)
        max_iter = check_int("max_iter", max_iter)
        if max_eval is not None:
            max_eval = check_int("max_eval", max_eval)
        tolerance_grad = check_real("tolerance_grad", tolerance_grad, nonnegative=True)
        tolerance_change = check_real("tolerance_change", tolerance_change, nonnegative=True)
        history_size = check_int("history_size", history_size)
        if line_search_fn is not None:
            line_search_fn = check_choice("line_search_fn", line_search_fn, ("strong_wolfe",))
        super().__init__(params, lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                         tolerance_change=tolerance_change, history_size=history_size,
                         line_search_fn=line_search_fn)
        self.stop_reason: str | None = None
        self.iterations = 0  # over all calls

    @property
    def converged(self) -> bool:
        return self.stop_reason in CONVERGED

    def _counters(self) -> tuple[int, int]:
        state = self.state[self._params[0]]
        return state.get("n_iter", 0), state.get("func_evals", 0)

    def step(self, closure):  # noqa: D102 - documented in the module
        group = self.param_groups[0]
        iters0, evals0 = self._counters()
        loss = super().step(closure)
        iters1, evals1 = self._counters()
        self.iterations += iters1 - iters0
        with torch.enable_grad():
            final = float(closure().detach())
        grad = self._gather_flat_grad()
        state = self.state[self._params[0]]
        if not (math.isfinite(final) and bool(torch.isfinite(grad).all())):
            self.stop_reason = "non_finite"
        elif iters1 - iters0 >= group["max_iter"]:
            self.stop_reason = "max_iter"
        elif evals1 - evals0 >= group["max_eval"]:
            self.stop_reason = "max_eval"
        elif float(grad.abs().max()) <= group["tolerance_grad"]:
            self.stop_reason = "tolerance_grad"
        elif ("d" in state and float((state["d"] * state["t"]).abs().max()) <= group["tolerance_change"]) or \
                ("prev_loss" in state and abs(final - state["prev_loss"]) < group["tolerance_change"]):
            self.stop_reason = "tolerance_change"
        else:
            self.stop_reason = "no_descent"
        return loss
