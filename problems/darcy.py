"""Darcy flow on the unit square: ``-div(a grad u) = f`` in ``(0, 1)^2``, ``u = 0`` on
the boundary, ``f = 1``.

The FNO benchmark setting (Li et al., ICLR 2021, Sec. 5.2): the permeability is
piecewise constant, ``a = 12`` where a Gaussian random field ``psi ~ N(0, (-Delta +
9 I)^(-2))`` with zero Neumann conditions is ``>= 0`` and ``a = 3`` elsewhere; the
map learnt is ``a -> u``. The field's constant mode is removed (as in the FNO
generator), so the two values cover about half the square each.

Grid: ``s x s`` nodes ``x_i = i / (s - 1)`` including the boundary (FNO's layout:
421 nodes, subsampled to 211, 141, 106, 85, ...). Any ``s >= 3``.

Solver: the vertex-centred five-point finite-volume discretisation with harmonic
face coefficients of :mod:`sciml.pde` (flux-continuous across the jumps of ``a``),
solved in batches by conjugate gradients (float64) preconditioned with one Galerkin
multigrid V-cycle run in float32 (:func:`sciml.pde.pcg`), to a relative residual of
``tol`` (default 1e-10). A sample that does not converge raises.
"""

from __future__ import annotations

import numpy as np
import torch

from sciml.pde import apply_operator, gaussian_random_field, solve_elliptic
from sciml.problems import Problem
from sciml.validation import ArgumentTypeError, check_choice, check_int, check_real

__all__ = ["Darcy"]


class Darcy(Problem):
    """Args:
        resolution: nodes per side ``s`` (boundary included).
        high, low: the two values of ``a`` (FNO: 12 and 3).
        alpha, tau: the covariance ``(-Delta + tau^2)^(-alpha)`` of the thresholded field.
        forcing: the constant right-hand side ``f``.
        tol: relative residual ``||f - A u|| / ||f||`` the solver reaches.
        max_iter: conjugate-gradient iterations before giving up.
        interpolation: the multigrid prolongation inside the preconditioner. Under CG the
            cheaper bilinear cycle wins on CPU: 9 iterations at 5.6 ms/sample each against 7
            at 9.4 ms with operator-dependent weights (257^2, batch 16, float32 cycle),
            whose per-sample transfer weights cost memory traffic.
    """

    name = "darcy"

    def __init__(self, resolution: int = 85, high: float = 12.0, low: float = 3.0, alpha: float = 2.0,
                 tau: float = 3.0, forcing: float = 1.0, tol: float = 1e-10, max_iter: int = 100,
                 interpolation: str = "bilinear"):
        self.resolution = check_int("resolution", resolution, minimum=3,
                                    hint="nodes per side, boundary included")
        self.high = check_real("high", high, positive=True, hint="the permeability values must be > 0")
        self.low = check_real("low", low, positive=True, hint="the permeability values must be > 0")
        if self.high < self.low:
            raise ValueError(f"high must be >= low (high is a where the random field is >= 0), got high={self.high}, "
                             f"low={self.low}; swap the two values")
        self.alpha, self.tau = check_real("alpha", alpha, positive=True), check_real("tau", tau, positive=True)
        self.forcing = check_real("forcing", forcing)
        self.tol = check_real("tol", tol, positive=True)
        if not self.tol < 1:
            raise ValueError(f"tol must lie in (0, 1), got {tol}")
        self.max_iter = check_int("max_iter", max_iter)
        self.interpolation = check_choice("interpolation", interpolation, ("bilinear", "operator"))
        self.solve_batch = max(1, 2**22 // resolution**2)  # bounds the hierarchy's memory (~0.3 GB)

    def parameters(self) -> dict:
        return {"resolution": self.resolution, "high": self.high, "low": self.low, "alpha": self.alpha,
                "tau": self.tau, "forcing": self.forcing, "tol": self.tol}

    def grid(self) -> dict:
        x = np.linspace(0.0, 1.0, self.resolution)
        return {"x": x, "y": x}

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Thresholded Gaussian random fields, ``(n, s, s)`` float32 with values ``high`` / ``low``."""
        s = self.resolution
        psi = gaussian_random_field(n, (s, s), self.alpha, self.tau, boundary="neumann", zero_mean=True,
                                    generator=generator, dtype=torch.float64)
        return torch.where(psi >= 0, self.high, self.low).to(torch.float32)

    def solve(self, inputs: torch.Tensor) -> torch.Tensor:
        """Pressure ``u`` for a batch of coefficients ``(n, s, s)``, in the input dtype (zero on the boundary).

        Differentiable in ``inputs`` (:func:`sciml.pde.solve_elliptic`: one adjoint solve
        per gradient), which is what inverse problems descend on."""
        a = self._check(inputs, "inputs").to(torch.float64)
        out = []
        for start in range(0, a.shape[0], self.solve_batch):
            block = a[start:start + self.solve_batch]
            out.append(solve_elliptic(block, torch.full_like(block, self.forcing), tol=self.tol,
                                      max_iter=self.max_iter, preconditioner_dtype=torch.float32,
                                      interpolation=self.interpolation))
        return torch.cat(out).to(inputs.dtype)

    def residual(self, a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The discrete residual ``f + div(a grad u)`` at the interior nodes, ``(n, s, s)``
        (zero on the boundary): a check for a predicted ``u``."""
        a = self._check(a, "a")
        if not isinstance(u, torch.Tensor):
            raise ArgumentTypeError(f"u must be a tensor of the shape of a, {tuple(a.shape)}, got {type(u).__name__}")
        if u.shape != a.shape:
            raise ValueError(f"u must have the shape of a, {tuple(a.shape)}, got {tuple(u.shape)}")
        a, u = a.to(torch.float64), u.to(torch.float64)
        r = self.forcing - apply_operator(a, u)
        r[..., 0, :] = r[..., -1, :] = r[..., :, 0] = r[..., :, -1] = 0
        return r

    def _check(self, a: torch.Tensor, name: str) -> torch.Tensor:
        s = self.resolution
        if not isinstance(a, torch.Tensor):
            raise ArgumentTypeError(f"{name} must be a tensor of coefficients of shape (n, {s}, {s}), got "
                                    f"{type(a).__name__}")
        if a.dim() != 3 or tuple(a.shape[1:]) != (s, s):
            raise ValueError(f"{name}: expected coefficients of shape (n, {s}, {s}), got {tuple(a.shape)}")
        if not a.is_floating_point():
            raise ArgumentTypeError(f"{name}: the coefficients must be a floating-point tensor, got {a.dtype} (an "
                                    f"integer field would be solved and cast back to integers); convert it with "
                                    f"a.double()")
        if a.shape[0] == 0:
            raise ValueError(f"{name}: expected at least one coefficient field (n >= 1), got shape {tuple(a.shape)}")
        return a
