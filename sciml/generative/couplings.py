"""Couplings of two samples: optimal-transport plans from POT, and pairs drawn from them.

A plan ``P`` ``(n0, n1)`` couples ``x0`` ``(n0, d)`` and ``x1`` ``(n1, d)`` with marginals
``a`` and ``b`` (uniform by default). :func:`ot_plan` solves

* ``"exact"``: ``min_P <P, C>`` by POT's network simplex (``ot.emd``);
* ``"sinkhorn"``: ``min_P <P, C> + reg sum P log P`` by POT's log-domain Sinkhorn
  (``ot.sinkhorn(method="sinkhorn_log")``, which stays accurate when ``reg << max C``,
  unlike the plain iteration that underflows);

for any cost matrix ``C``: squared distances by default, or a reference process's
negative log transition density (the static Schrödinger bridge, ``reg = 1``; see
:mod:`sciml.generative.references`). Every plan is checked: NaN, a lost mass or
marginals off by more than ``marginal_tol`` raise an error, never a silent fallback to
the independent coupling.

Pairs: :func:`sample_pairs` draws ``(i, j) ~ P`` with replacement (the minibatch-OT
convention of torchcfm); :func:`sample_conditional` draws one partner ``j ~ P(i, .) /
a_i`` for every row, so each ``x0`` is used exactly once (an exact plan between equal
uniform samples is a permutation, and the pairing is that permutation).
"""

from __future__ import annotations

import warnings

import ot
import torch

from sciml.validation import check_choice, check_real

__all__ = ["COUPLINGS", "couple", "ot_plan", "sample_conditional", "sample_pairs", "squared_distances"]

COUPLINGS = ("independent", "exact", "sinkhorn")


def squared_distances(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """``|x0_i - x1_j|^2`` ``(n0, n1)`` for ``(n0, ...)`` and ``(n1, ...)`` (flattened)."""
    a, b = x0.reshape(x0.shape[0], -1), x1.reshape(x1.shape[0], -1)
    return (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp_min(0)


def _marginal(w, n, like):
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=torch.float64, device=like.device)
    w = torch.as_tensor(w, dtype=torch.float64, device=like.device)
    if w.shape != (n,) or (w < 0).any() or abs(float(w.sum()) - 1) > 1e-9:
        raise ValueError(f"a marginal must be {n} non-negative weights summing to 1, got shape {tuple(w.shape)} "
                         f"and sum {float(w.sum()):.6g}")
    return w


def ot_plan(cost: torch.Tensor, method: str = "exact", reg: float | None = None, a=None, b=None,
            max_iterations: int | None = None, marginal_tol: float = 1e-6) -> torch.Tensor:
    """The optimal plan ``(n0, n1)`` for the cost matrix ``cost`` (float64 inside, returned
    in ``cost``'s dtype and device).

    Args:
        method: ``"exact"`` or ``"sinkhorn"`` (entropic, needs ``reg > 0``).
        reg: the entropic regularisation (the plan minimises ``<P, C> + reg sum P log P``).
        a, b: the marginals (default uniform).
        max_iterations: POT's ``numItermax`` (default 10^6 for exact, 10^5 for Sinkhorn).
        marginal_tol: largest accepted L1 error of either marginal.
    """
    check_choice("method", method, ("exact", "sinkhorn"))
    if cost.dim() != 2:
        raise ValueError(f"cost must be a matrix (n0, n1), got shape {tuple(cost.shape)}")
    c = cost.detach().to(torch.float64)
    if not torch.isfinite(c).all():
        raise ValueError("the cost matrix holds NaN or Inf; check the samples and the reference process")
    a, b = _marginal(a, c.shape[0], c), _marginal(b, c.shape[1], c)
    if method == "exact":
        plan = ot.emd(a, b, c, numItermax=int(max_iterations or 1_000_000))
    else:
        if reg is None:
            raise ValueError("method='sinkhorn' needs reg > 0, got None")
        reg = check_real("reg", reg, positive=True, hint="the entropic regularisation of method='sinkhorn'")
        with warnings.catch_warnings():  # non-convergence is reported below through the marginals
            warnings.simplefilter("ignore")
            plan = ot.sinkhorn(a, b, c, reg, method="sinkhorn_log", numItermax=int(max_iterations or 100_000),
                               stopThr=marginal_tol / 100)
    if not torch.isfinite(plan).all():
        raise FloatingPointError("the OT plan holds NaN; rescale the cost or raise reg")
    row_error = float((plan.sum(1) - a).abs().sum())
    col_error = float((plan.sum(0) - b).abs().sum())
    if max(row_error, col_error) > marginal_tol:
        hint = ("raise reg or max_iterations" if method == "sinkhorn" else "raise max_iterations")
        raise RuntimeError(f"the {method} plan misses its marginals (L1 errors {row_error:.2e} rows, "
                           f"{col_error:.2e} columns, tolerance {marginal_tol:.0e}); {hint}")
    return plan.to(cost.dtype)


def sample_pairs(plan: torch.Tensor, n: int, generator: torch.Generator | None = None):
    """``n`` index pairs ``(i, j)`` drawn with replacement from ``plan``."""
    flat = plan.reshape(-1).clamp_min(0)
    k = torch.multinomial(flat / flat.sum(), n, replacement=True, generator=generator)
    return k // plan.shape[1], k % plan.shape[1]


def sample_conditional(plan: torch.Tensor, generator: torch.Generator | None = None, transpose: bool = False):
    """For every row ``i`` of ``plan`` one column ``j ~ plan[i] / plan[i].sum()``
    (``transpose=True``: for every column a row). Returns ``(n_rows,)`` indices."""
    p = (plan.T if transpose else plan).clamp_min(0)
    mass = p.sum(1, keepdim=True)
    if (mass <= 0).any():
        raise ValueError("a row of the plan has no mass: its sample has no partner")
    return torch.multinomial(p / mass, 1, generator=generator).squeeze(1)


def couple(x0: torch.Tensor, x1: torch.Tensor, method: str = "independent", reg: float | None = None,
           cost: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x1`` reordered to pair with ``x0`` row by row under the coupling ``method`` (one of
    :data:`COUPLINGS`): unchanged (``"independent"``), by the exact OT plan, or by the
    entropic plan; the cost defaults to squared distances. Each ``x0`` keeps its place."""
    check_choice("coupling", method, COUPLINGS)
    if method == "independent":
        return x1
    plan = ot_plan(squared_distances(x0, x1) if cost is None else cost, method, reg)
    return x1[sample_conditional(plan, generator)]

