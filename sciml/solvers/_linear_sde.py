"""Linear SDEs with additive noise, ``dX = (A X + c) dt + sigma dW`` in ``R^d``, solved
in closed form.

The solution is Gaussian: over a step ``dt``

    X_{t+dt} = Phi X_t + shift + N(0, Q),     Phi = e^{A dt},
    shift = int_0^dt e^{A s} ds c,            Q = sigma^2 int_0^dt e^{A s} e^{A^T s} ds,

both integrals from one block matrix exponential each (Van Loan, "Computing integrals
involving the matrix exponential", IEEE TAC 23 (1978), 395-404):

    exp(dt [[A, c], [0, 0]])            = [[Phi, shift], [0, 1]],
    exp(dt [[-A, sigma^2 I], [0, A^T]]) = [[., F], [0, G]],        Q = G^T F.

Sampling these transitions simulates the process exactly at any times (no time-step
error), which is how the Ornstein–Uhlenbeck populations (``problems.OUPopulation``) and
the Schrödinger-bridge references (``sciml.generative.AffineReference``) are drawn.

Shapes: states ``(batch, d)``; times are numbers or tensors.
"""

from __future__ import annotations

import torch

from sciml.validation import check_real

__all__ = ["LinearSDE"]


class LinearSDE:
    """``dX = (A X + c) dt + sigma dW`` in ``R^d`` with a scalar ``sigma > 0`` (Itô and
    Stratonovich coincide: the noise is additive).

    Args:
        drift_matrix: ``A`` ``(d, d)``.
        offset: ``c`` ``(d,)`` (default 0).
        sigma: the diffusion coefficient.
    """

    def __init__(self, drift_matrix: torch.Tensor, offset: torch.Tensor | None = None, sigma: float = 1.0):
        A = torch.as_tensor(drift_matrix)
        if A.dim() != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"drift_matrix must be square (d, d), got shape {tuple(A.shape)}")
        if not torch.is_floating_point(A):
            A = A.to(torch.get_default_dtype())
        c = torch.zeros(A.shape[0], dtype=A.dtype, device=A.device) if offset is None else torch.as_tensor(offset)
        if c.shape != (A.shape[0],):
            raise ValueError(f"offset must have shape ({A.shape[0]},), got {tuple(c.shape)}")
        sigma = check_real("sigma", sigma, positive=True)
        if not (torch.isfinite(A).all() and torch.isfinite(c).all()):
            raise ValueError("the drift parameters hold NaN or Inf")
        self.A, self.c, self.sigma = A, c.to(A), sigma

    @classmethod
    def brownian(cls, dim: int, sigma: float = 1.0, dtype=torch.float64, device=None):
        """``dX = sigma dW``."""
        return cls(torch.zeros(dim, dim, dtype=dtype, device=device), sigma=sigma)

    @classmethod
    def ornstein_uhlenbeck(cls, drift_matrix: torch.Tensor, mean: torch.Tensor, sigma: float):
        """``dX = A (X - m) dt + sigma dW``."""
        A = torch.as_tensor(drift_matrix)
        return cls(A, -(A @ torch.as_tensor(mean).to(A)), sigma)

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(A={self.A.tolist()}, c={self.c.tolist()}, sigma={self.sigma})"

    def to(self, like: torch.Tensor):
        """The same process in ``like``'s dtype and device (itself when they match; no
        re-validation, so a training step does not synchronise with the device)."""
        if self.A.dtype == like.dtype and self.A.device == like.device:
            return self
        out = object.__new__(type(self))
        out.A, out.c, out.sigma = self.A.to(like), self.c.to(like), self.sigma
        return out

    def drift(self, x: torch.Tensor) -> torch.Tensor:
        """``A x + c`` for ``x`` ``(batch, d)``."""
        return x @ self.A.to(x).T + self.c.to(x)

    def transition(self, dt) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(Phi, shift, Q)`` of ``X_{t+dt} | X_t``, for ``dt >= 0`` a number or a tensor
        of any shape (outputs gain its shape in front: ``(..., d, d)``, ``(..., d)``, ``(..., d, d)``)."""
        A, c = self.A, self.c
        dt = torch.as_tensor(dt, dtype=A.dtype, device=A.device)
        d = self.dim
        mean_block = torch.zeros(d + 1, d + 1, dtype=A.dtype, device=A.device)
        mean_block[:d, :d], mean_block[:d, d] = A, c
        cov_block = torch.zeros(2 * d, 2 * d, dtype=A.dtype, device=A.device)
        cov_block[:d, :d], cov_block[d:, d:] = -A, A.T
        cov_block[:d, d:] = self.sigma ** 2 * torch.eye(d, dtype=A.dtype, device=A.device)
        e1 = torch.linalg.matrix_exp(dt[..., None, None] * mean_block)
        e2 = torch.linalg.matrix_exp(dt[..., None, None] * cov_block)
        Q = e2[..., d:, d:].transpose(-1, -2) @ e2[..., :d, d:]
        return e1[..., :d, :d], e1[..., :d, d], 0.5 * (Q + Q.transpose(-1, -2))

    def transition_mean(self, x: torch.Tensor, dt: float) -> torch.Tensor:
        """``E[X_{t+dt} | X_t = x]`` ``(batch, d)``."""
        Phi, shift, _ = (m.to(x) for m in self.transition(dt))
        return x @ Phi.T + shift

    def simulate(self, x0: torch.Tensor, times: torch.Tensor, generator: torch.Generator | None = None):
        """Exact paths ``(batch, len(times), d)`` from ``x0`` ``(batch, d)`` at ``times[0]``
        (increasing), one Gaussian draw ``(batch, d)`` from ``generator`` per interval."""
        times = torch.as_tensor(times, dtype=x0.dtype, device=x0.device)
        out = [x0]
        for dt in torch.diff(times).tolist():
            Phi, shift, Q = (m.to(x0) for m in self.transition(dt))
            z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
            out.append(out[-1] @ Phi.T + shift + z @ torch.linalg.cholesky(Q).T)
        return torch.stack(out, 1)
