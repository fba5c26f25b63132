"""A differentiable solve of ``-div(a grad u) = f``: gradients by the adjoint equation.

Forward: preconditioned conjugate gradients (:func:`pcg`) to a relative residual
``tol``. Backward, for a loss ``L(u)`` with ``g = dL/du``: the operator ``A(a)`` is
symmetric on the unknowns, so one more solve gives the adjoint ``lambda = A^{-1} g``, and

    dL/df = lambda,        dL/da = -lambda^T (dA/da) u,

the second formed by differentiating the bilinear form ``lambda . A(a) u = h^-2 sum over
edges PQ of k(a_P, a_Q) (lambda_P - lambda_Q)(u_P - u_Q)`` under autograd instead of the
CG iterations. The cost of a gradient is one extra
solve, whatever the number of iterations, and the memory is that of the solution. The
gradient is that of the exact discrete solution; its error is of the order of ``tol``.
"""

from __future__ import annotations

import torch

from sciml.validation import check_int, check_real

from ._mg_stencil import interior_mask
from ._mg_stencil import face_coefficient
from ._multigrid import pcg

__all__ = ["solve_elliptic"]


def _bilinear_form(a, lam, u, bc, face):
    """``lam . A(a) u`` summed over the grid, per sample, as a differentiable function of ``a``."""
    n = a.shape[-1]
    h2inv = float((n - 1) ** 2 if bc == "dirichlet" else n**2)
    total = 0.0
    for dim in (-2, -1):
        if bc == "periodic":
            nb = [torch.roll(x, -1, dims=dim) for x in (a, lam, u)]
            here = (a, lam, u)
        else:
            here = [x.narrow(dim, 0, n - 1) for x in (a, lam, u)]
            nb = [x.narrow(dim, 1, n - 1) for x in (a, lam, u)]
        k = face_coefficient(here[0], nb[0], face)
        total = total + (k * (here[1] - nb[1]) * (here[2] - nb[2])).sum(dim=(-2, -1))
    return h2inv * total


def _solve(a, f, bc, tol, max_iter, options):
    result = pcg(a, f, bc, tol=tol, max_iter=max_iter, **options)
    if not bool(result.converged.all()):
        worst = result.residuals[-1].max().item()
        raise RuntimeError(f"the elliptic solve stopped at relative residual {worst:.2e} > tol={tol:g} after "
                           f"{max_iter} iterations; raise max_iter or tol")
    return result.u


class _EllipticSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, f, bc, tol, max_iter, options):
        u = _solve(a.detach(), f.detach(), bc, tol, max_iter, options)
        ctx.save_for_backward(a, u)
        ctx.settings = (bc, tol, max_iter, options)
        return u

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_u):
        a, u = ctx.saved_tensors
        bc, tol, max_iter, options = ctx.settings
        if bc == "periodic":
            grad_u = grad_u - grad_u.mean(dim=(-2, -1), keepdim=True)
        mask = interior_mask(u.shape[-1], bc, u.dtype, u.device)
        if not bool(grad_u.ne(0).any()):
            lam = torch.zeros_like(u)
        else:
            lam = _solve(a.detach(), grad_u * mask, bc, tol, max_iter, options)
        grad_a = grad_f = None
        if ctx.needs_input_grad[0]:
            with torch.enable_grad():
                a_leaf = a.detach().requires_grad_(True)
                form = _bilinear_form(a_leaf, lam, u, bc, options.get("face", "harmonic")).sum()
                (grad_a,) = torch.autograd.grad(-form, a_leaf)
        if ctx.needs_input_grad[1]:
            grad_f = lam * mask
        return grad_a, grad_f, None, None, None, None


def solve_elliptic(a: torch.Tensor, f: torch.Tensor, bc: str = "dirichlet", tol: float = 1e-10,
                   max_iter: int = 200, **pcg_options) -> torch.Tensor:
    """``u`` with ``-div(a grad u) = f`` (the discretisation of :func:`apply_operator`),
    differentiable in ``a`` and ``f`` by the adjoint equation (see the module doc).

    ``a``, ``f``: ``(batch, n, n)`` or ``(n, n)``, same shape. ``pcg_options`` go to
    :func:`pcg` (``preconditioner``, ``preconditioner_dtype``, ``interpolation``, ...).
    Raises if a sample does not reach ``tol`` in ``max_iter`` iterations.
    """
    if not isinstance(a, torch.Tensor) or not isinstance(f, torch.Tensor):
        raise TypeError("a and f must be tensors")
    if a.shape != f.shape:
        raise ValueError(f"a and f must have the same shape, got {tuple(a.shape)} and {tuple(f.shape)}")
    tol = check_real("tol", tol, hint="tol is the relative residual to reach, e.g. 1e-10")
    if not 0 < tol < 1:
        raise ValueError(f"tol must lie in (0, 1), got {tol}")
    max_iter = check_int("max_iter", max_iter, hint="at least one CG iteration, e.g. max_iter=200")
    if not bool(torch.isfinite(a).all()) or not bool(torch.isfinite(f).all()):
        raise ValueError("a or f contains inf or nan")
    return _EllipticSolve.apply(a, f, bc, float(tol), int(max_iter), dict(pcg_options))
