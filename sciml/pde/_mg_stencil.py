"""Stencils of the multigrid solver: the harmonic five-point finite-volume operator and
the application of a (batch, 3, 3, n, n) stencil to grid functions (see ``_multigrid``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_FACES = ("harmonic", "arithmetic")
OFFSETS = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)]


def interior_mask(n: int, bc: str, dtype, device) -> torch.Tensor:
    m = torch.ones(n, n, dtype=dtype, device=device)
    if bc == "dirichlet":
        m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = 0
    return m


def _pad(u: torch.Tensor, bc: str) -> torch.Tensor:
    """``(B, n, n) -> (B, n+2, n+2)``: zero (Dirichlet) or wrap-around (periodic) halo."""
    if bc == "periodic":
        return F.pad(u.unsqueeze(1), (1, 1, 1, 1), mode="circular").squeeze(1)
    return F.pad(u, (1, 1, 1, 1))


def face_coefficient(x: torch.Tensor, y: torch.Tensor, face: str) -> torch.Tensor:
    if face == "harmonic":
        return 2 * x * y / (x + y)
    return 0.5 * (x + y)


def five_point_stencil(a: torch.Tensor, bc: str, face: str = "harmonic", h2inv: float | None = None) -> torch.Tensor:
    """The finest-level stencil of ``A`` as ``(batch, 3, 3, n, n)``: entry
    ``[:, 1+d1, 1+d2, i, j]`` multiplies ``u[i+d1, j+d2]`` in row ``(i, j)``.
    Dirichlet boundary rows are zero."""
    if face not in _FACES:
        raise ValueError(f"face must be one of {_FACES}, got {face!r}")
    n = a.shape[-1]
    if h2inv is None:
        h2inv = float((n - 1) ** 2 if bc == "dirichlet" else n**2)
    # halo: wrap-around, or (Dirichlet) a copy that boundary rows, which are zeroed, never use
    ap = F.pad(a.unsqueeze(1), (1, 1, 1, 1), mode="circular" if bc == "periodic" else "replicate").squeeze(1)
    c = ap[:, 1:-1, 1:-1]
    scale = h2inv * (interior_mask(n, bc, a.dtype, a.device) if bc == "dirichlet" else 1.0)
    # faces towards the four neighbours (i-1, j), (i+1, j), (i, j-1), (i, j+1)
    faces = [face_coefficient(c, nb, face) * scale for nb in (ap[:, :-2, 1:-1], ap[:, 2:, 1:-1], ap[:, 1:-1, :-2],
                                                     ap[:, 1:-1, 2:])]
    S = a.new_zeros(a.shape[0], 3, 3, n, n)
    for (i, j), k in zip(((0, 1), (2, 1), (1, 0), (1, 2)), faces):
        torch.neg(k, out=S[:, i, j])
    S[:, 1, 1] = faces[0] + faces[1] + faces[2] + faces[3]
    return S


def stencil_apply(S: torch.Tensor, u: torch.Tensor, bc: str, five: bool = False) -> torch.Tensor:
    """``sum_d S[d] * u[. + d]`` for stencils ``(B or 1, 3, 3, n, n)`` and ``u (B, n, n)``."""
    n = u.shape[-1]
    out = S[:, 1, 1] * u
    if bc == "periodic":
        up = _pad(u, bc)
        for d1, d2 in OFFSETS:
            if (d1 or d2) and not (five and d1 and d2):
                out = torch.addcmul(out, S[:, 1 + d1, 1 + d2], up[:, 1 + d1 : 1 + d1 + n, 1 + d2 : 1 + d2 + n])
        return out
    # Dirichlet: neighbours outside the grid are zero, so update the overlapping blocks in place
    for d1, d2 in OFFSETS:
        if (d1 or d2) and not (five and d1 and d2):
            i0, i1, j0, j1 = max(0, -d1), n - max(0, d1), max(0, -d2), n - max(0, d2)
            out[:, i0:i1, j0:j1].addcmul_(S[:, 1 + d1, 1 + d2, i0:i1, j0:j1],
                                          u[:, i0 + d1 : i1 + d1, j0 + d2 : j1 + d2])
    return out
