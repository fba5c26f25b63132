"""Grid transfers of the multigrid solver: bilinear and operator-dependent prolongation
weights, restriction ``R = P^T / 4`` and the stencil-level Galerkin product ``R A P``
(see ``_multigrid`` for the formulas and measurements)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._mg_stencil import OFFSETS, interior_mask


# --------------------------------------------------------------------------- #
# transfer operators and Galerkin coarsening
# --------------------------------------------------------------------------- #
def _coarse_size(nf: int, bc: str) -> int:
    return (nf + 1) // 2 if bc == "dirichlet" else nf // 2


def _padded(x: torch.Tensor, width: int, bc: str) -> torch.Tensor:
    """Pad the last two axes of ``(B, k, n, n)`` by ``width`` (wrap-around or zeros)."""
    return F.pad(x, (width,) * 4, mode="circular" if bc == "periodic" else "constant")


def bilinear_weights(B: int, nf: int, bc: str, dtype, device) -> torch.Tensor:
    """Bilinear prolongation as weights ``(B, 3, 3, nf, nf)``: entry ``[:, 1+a, 1+b, i, j]``
    is the weight of the coarse node at fine position ``(i+a, j+b)`` in ``e_h[i, j]``."""
    idx = torch.arange(nf, device=device)
    odd_i, odd_j = (idx % 2 == 1).view(-1, 1), (idx % 2 == 1).view(1, -1)
    P = torch.zeros(B, 3, 3, nf, nf, dtype=dtype, device=device)
    for a, b in OFFSETS:
        ok_i = odd_i if a else ~odd_i
        ok_j = odd_j if b else ~odd_j
        P[:, 1 + a, 1 + b] = ((ok_i & ok_j).to(dtype) * (0.5 if a else 1.0) * (0.5 if b else 1.0))
    return P


def operator_weights(S: torch.Tensor, bc: str, mask: torch.Tensor) -> torch.Tensor:
    """Operator-dependent prolongation from the fine stencil ``S`` (Alcouffe, Brandt,
    Dendy & Painter 1981; de Zeeuw 1990), same layout as :func:`bilinear_weights`.

    * coarse points ``(even, even)``: injection;
    * edge points between two coarse points along axis 0 (``(odd, even)``): the row
      ``A e = 0`` with the stencil collapsed along axis 1,
      ``w_{-1} = -(sum_b S[-1, b]) / (sum_b S[0, b])`` and likewise ``w_{+1}``; axis 1
      symmetric. Across a jump in ``a`` the weights follow the flux, not the distance;
    * centre points ``(odd, odd)``: ``A e = 0`` solved for the point with its eight
      neighbours interpolated, ``w_c = -(S[c] + S[c_0] w_{edge} + S[c_1] w_{edge}) / S[0]``.

    Rows outside ``mask`` (Dirichlet and embedding nodes) get no weights. For the
    constant-coefficient Laplacian these are the bilinear weights.
    """
    B, _, _, nf, _ = S.shape
    dtype, device = S.dtype, S.device
    idx = torch.arange(nf, device=device)
    odd_i, odd_j = (idx % 2 == 1).view(-1, 1), (idx % 2 == 1).view(1, -1)
    live = mask.bool()

    def ratio(num, den):
        ok = live & (den != 0)
        return torch.where(ok, -num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))

    P = torch.zeros(B, 3, 3, nf, nf, dtype=dtype, device=device)
    P[:, 1, 1] = (~odd_i & ~odd_j).to(dtype).expand(B, nf, nf) * (live | (~odd_i & ~odd_j)).to(dtype)
    edge0 = (odd_i & ~odd_j).to(dtype)  # coarse neighbours at (i -+ 1, j)
    den0 = S[:, 1, :].sum(1)  # collapse along axis 1: S[0, -1] + S[0, 0] + S[0, 1]
    den1 = S[:, :, 1].sum(1)  # collapse along axis 0: S[-1, 0] + S[0, 0] + S[1, 0]
    for a in (-1, 1):
        P[:, 1 + a, 1] = edge0 * ratio(S[:, 1 + a, :].sum(1), den0)
    edge1 = (~odd_i & odd_j).to(dtype)
    for b in (-1, 1):
        P[:, 1, 1 + b] = edge1 * ratio(S[:, :, 1 + b].sum(1), den1)
    centre = (odd_i & odd_j).to(dtype)
    Pp = _padded(P.reshape(B, 9, nf, nf), 1, bc).reshape(B, 3, 3, nf + 2, nf + 2)
    for a, b in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        # the edge point (i+a, j) reaches the corner through its axis-1 weight b, (i, j+b) through a
        via0 = Pp[:, 1, 1 + b, 1 + a : 1 + a + nf, 1 : 1 + nf]
        via1 = Pp[:, 1 + a, 1, 1 : 1 + nf, 1 + b : 1 + b + nf]
        num = S[:, 1 + a, 1 + b] + S[:, 1 + a, 1] * via0 + S[:, 1, 1 + b] * via1
        P[:, 1 + a, 1 + b] = centre * ratio(num, S[:, 1, 1])
    return P


class GridTransfer:
    """Prolongation weights ``P`` cut, once, into the contiguous blocks that prolongation
    (per parity class of the fine points) and restriction (per offset) read."""

    def __init__(self, P: torch.Tensor, bc: str):
        nf = P.shape[-1]
        self.bc, self.nf, self.nc = bc, nf, _coarse_size(nf, bc)
        self.up = {}
        for p0 in (0, 1):
            for p1 in (0, 1):
                self.up[p0, p1] = [((p0 + a0) // 2, (p1 + a1) // 2, P[:, 1 + a0, 1 + a1, p0::2, p1::2].contiguous())
                                   for a0 in ((0,) if p0 == 0 else (-1, 1)) for a1 in ((0,) if p1 == 0 else (-1, 1))]
        Pp = _padded(P.reshape(P.shape[0], 9, nf, nf), 1, bc)
        nc = self.nc
        self.down = []
        for a, b in OFFSETS:  # the fine point 2I - (a, b) reaches I through its weight (a, b)
            rows, cols = slice(1 - a, 1 - a + 2 * nc - 1, 2), slice(1 - b, 1 - b + 2 * nc - 1, 2)
            self.down.append((rows, cols, Pp[:, (1 + a) * 3 + (1 + b), rows, cols].contiguous() / 4))

    def prolong(self, e: torch.Tensor) -> torch.Tensor:
        nf = self.nf
        ep = F.pad(e.unsqueeze(1), (0, 1, 0, 1), mode="circular" if self.bc == "periodic" else "constant")[:, 0]
        out = e.new_empty(e.shape[0], nf, nf)
        for (p0, p1), terms in self.up.items():
            m0, m1 = len(range(p0, nf, 2)), len(range(p1, nf, 2))
            acc = None
            for s0, s1, w in terms:
                term = w * ep[:, s0 : s0 + m0, s1 : s1 + m1]
                acc = term if acc is None else acc + term
            out[:, p0::2, p1::2] = acc
        return out

    def restrict(self, r: torch.Tensor) -> torch.Tensor:
        rp = _padded(r.unsqueeze(1), 1, self.bc)[:, 0]
        out = None
        for rows, cols, w in self.down:
            term = w * rp[:, rows, cols]
            out = term if out is None else out + term
        return out


def prolong(e: torch.Tensor, P: torch.Tensor, bc: str) -> torch.Tensor:
    """``e_h[f] = sum_a P[a, f] e_H[(f + a) / 2]`` for weights ``P`` ``(B or 1, 3, 3, nf, nf)``."""
    return GridTransfer(P, bc).prolong(e)


def restrict(r: torch.Tensor, P: torch.Tensor, bc: str) -> torch.Tensor:
    """``r_H = P^T r_h / 4`` (full weighting when ``P`` is bilinear)."""
    return GridTransfer(P, bc).restrict(r)


def galerkin_coarsen(S: torch.Tensor, P: torch.Tensor, bc: str, five: bool = False) -> torch.Tensor:
    """``R A P`` with ``R = P^T / 4`` as a 9-point stencil ``(B, 3, 3, n_c, n_c)``:

        A_H[I; D] = sum_{r, s} P[-r; 2I+r] / 4 * A_h[2I+r; s] * P[2D-r-s; 2I+r+s].
    """
    B, nf = S.shape[0], S.shape[-1]
    nc = _coarse_size(nf, bc)
    C = S.new_zeros(B, 3, 3, nc, nc)
    Sp = _padded(S.reshape(B, 9, nf, nf), 2, bc)
    Pp = _padded(P.reshape(P.shape[0], 9, nf, nf), 2, bc)

    def at(x, k, shift):  # x[:, k] at the fine points 2I + shift, I = 0 .. nc - 1
        return x[:, k, 2 + shift[0] : 2 + shift[0] + 2 * nc - 1 : 2, 2 + shift[1] : 2 + shift[1] + 2 * nc - 1 : 2]

    for r in OFFSETS:
        w = at(Pp, (1 - r[0]) * 3 + (1 - r[1]), r) / 4
        for s_ in OFFSETS:
            if five and s_[0] and s_[1]:
                continue
            row = w * at(Sp, (1 + s_[0]) * 3 + (1 + s_[1]), r)
            target = (r[0] + s_[0], r[1] + s_[1])
            for D in OFFSETS:
                a = (2 * D[0] - target[0], 2 * D[1] - target[1])
                if abs(a[0]) <= 1 and abs(a[1]) <= 1:
                    C[:, 1 + D[0], 1 + D[1]] += row * at(Pp, (1 + a[0]) * 3 + (1 + a[1]), target)
    if bc == "dirichlet":
        C = C * interior_mask(nc, bc, S.dtype, S.device)
    return C
