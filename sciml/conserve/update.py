"""The ProbConserv update (Hansen et al., ICML 2023): condition a Gaussian prediction on
a linear conservation constraint.

Given a prediction ``u ~ N(mu, Sigma)`` at ``n`` points and the constraint
``G u = b + eps``, ``eps ~ N(0, sigma_G^2 I)`` (``m`` rows), the posterior is

    mu~    = mu - Sigma G^T (sigma_G^2 I + G Sigma G^T)^(-1) (G mu - b),
    Sigma~ = Sigma - Sigma G^T (sigma_G^2 I + G Sigma G^T)^(-1) G Sigma.

``sigma_G^2 = 0`` is exact conservation (``G mu~ = b``, ``G Sigma~ G^T = 0``): the paper's
ProbConserv. ``mode="hardc"`` is its HardC baseline: the Euclidean projection of the
mean onto ``{G u = b}`` (``Sigma`` replaced by the identity), covariance unchanged.

Everything is batched over leading axes (time slices, latent samples, functions) and
computed in float64 with a Cholesky solve of the small ``m x m`` system. The update is
differentiable in ``mu`` and ``Sigma`` (gradcheck-tested), so it can be used as a layer
at inference or inside a model trained end to end.
"""

from __future__ import annotations

import torch

__all__ = ["conservation_update"]


def conservation_update(mean: torch.Tensor, cov: torch.Tensor, G: torch.Tensor, b: torch.Tensor,
                        noise_var: float | torch.Tensor = 0.0, mode: str = "probconserv",
                        full_covariance: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and covariance (see the module docstring).

    Args:
        mean: ``(..., n)``.
        cov: the variances ``(..., n)`` (a diagonal covariance) or a full ``(..., n, n)``.
        G: constraint rows ``(..., m, n)`` (broadcast against ``mean``'s batch axes).
        b: right-hand sides ``(..., m)``.
        noise_var: ``sigma_G^2 >= 0`` (scalar or broadcastable to ``(..., m)``).
        mode: ``"probconserv"`` or ``"hardc"``.
        full_covariance: return ``(..., n, n)`` (default: when ``cov`` is full) or the
            diagonal ``(..., n)`` of the posterior covariance.

    Returns ``(mean~, cov~)`` in float64.
    """
    if mode not in ("probconserv", "hardc"):
        raise ValueError(f"mode must be 'probconserv' or 'hardc', got {mode!r}")
    mu = mean.to(torch.float64)
    n = mu.shape[-1]
    diagonal = cov.shape == mean.shape
    if not diagonal and cov.shape[-2:] != (n, n):
        raise ValueError(f"cov must be the variances {tuple(mean.shape)} or a covariance (..., {n}, {n}), "
                         f"got {tuple(cov.shape)}")
    G = G.to(torch.float64)
    if G.shape[-1] != n:
        raise ValueError(f"G must have {n} columns, got shape {tuple(G.shape)}")
    b = b.to(torch.float64)
    if b.shape[-1] != G.shape[-2]:
        raise ValueError(f"b must have one entry per row of G ({G.shape[-2]}), got shape {tuple(b.shape)}")
    cov = cov.to(torch.float64)
    full = (not diagonal) if full_covariance is None else full_covariance
    noise = torch.as_tensor(noise_var, dtype=torch.float64, device=mu.device)
    if bool((noise < 0).any()):
        raise ValueError("noise_var must be >= 0")
    residual = (G @ mu.unsqueeze(-1)).squeeze(-1) - b  # (..., m)

    if mode == "hardc":
        correction = G.transpose(-1, -2) @ torch.linalg.solve(G @ G.transpose(-1, -2), residual.unsqueeze(-1))
        new_mean = mu - correction.squeeze(-1)
        if full and diagonal:
            return new_mean, torch.diag_embed(cov).expand(*new_mean.shape, n)
        return new_mean, cov

    # Sigma G^T: (..., n, m)
    sg = cov.unsqueeze(-1) * G.transpose(-1, -2) if diagonal else cov @ G.transpose(-1, -2)
    S = G @ sg + torch.diag_embed(noise.expand(residual.shape))
    chol = torch.linalg.cholesky(S)
    gain_t = torch.cholesky_solve(sg.transpose(-1, -2), chol)  # S^-1 G Sigma: (..., m, n)
    new_mean = mu - (gain_t.transpose(-1, -2) @ residual.unsqueeze(-1)).squeeze(-1)
    if full:
        base = torch.diag_embed(cov) if diagonal else cov
        new_cov = base - sg @ gain_t
        return new_mean, 0.5 * (new_cov + new_cov.transpose(-1, -2))
    # the diagonal of Sigma - (Sigma G^T) S^-1 (G Sigma) without forming n x n matrices
    base_diag = cov if diagonal else torch.diagonal(cov, dim1=-2, dim2=-1)
    return new_mean, base_diag - (sg * gain_t.transpose(-1, -2)).sum(-1)
