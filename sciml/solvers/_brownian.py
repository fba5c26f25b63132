"""A Brownian path that is a pure function of ``(seed, t)``: a virtual Brownian tree.

``W`` is a Brownian motion on ``[t0, t1]`` with ``W(t0) = 0`` and one independent
component per entry of ``shape``. Nothing is stored: every query regenerates the
values it needs from a counter-based random number generator, so the same times give
bit-identical values in any order, from any object with the same seed.

**The tree** (Lévy's midpoint construction; the virtual Brownian tree of Li, Wong,
Chen & Duvenaud, "Scalable gradients for stochastic differential equations", AISTATS
2020, and of diffrax's ``VirtualBrownianTree``; Kidger, "On neural differential
equations", DPhil thesis, Oxford 2021, Sec. 5.5.2). Level ``k`` splits ``[t0, t1]`` into ``2^k``
intervals of width ``h_k = (t1 - t0) / 2^k``. ``W(t1) = sqrt(t1 - t0) Z`` and each
interval ``[a, b]`` of level ``k < L`` is halved at ``m = (a + b) / 2`` by the
Brownian-bridge midpoint law::

    W(m) = (W(a) + W(b)) / 2 + sqrt(h_k) / 2 * Z_(k, j)

where ``Z_(k, j)`` is the standard normal of node ``(level k, index j)``. The depth
``L`` is the least with leaf width ``h_L = (t1 - t0) / 2^L <= tol``; the default
``tol = (t1 - t0) / 2^20`` gives ``L = 20``. A time ``t`` inside a leaf ``[a, b]`` at
fraction ``p = (t - a) / h_L`` (``q = 1 - p``) gets one bridge draw keyed on the leaf::

    W(t) = q W(a) + p W(b) + sqrt(h_L p q) * Z_leaf.

**Exact vs approximate.** The values at the dyadic points ``t0 + i h_L`` have exactly
the law of Brownian motion. Any single time ``t`` has the exact marginal law, and any
set of times lying in pairwise different leaves (for example times at least
``tol`` apart) has exactly the joint law of Brownian motion at those times, because the
bridges of different leaves are independent given the dyadic values. Two times
``s < t`` inside one leaf share ``Z_leaf``, so only their increment is approximate: it
has the right mean given ``W(a), W(b)`` but the variance ``(t - s)^2 / h_L + h_L
(sqrt(p_t q_t) - sqrt(p_s q_s))^2`` instead of ``t - s``; both are below ``1.25 h_L``,
so the error is ``O(sqrt(tol))`` in size. Choose ``tol`` below the smallest step you
take. A fixed-step solver with step ``dt`` is exact with ``tol = dt``, which is also
much cheaper than the default (the cost of a grid grows with the depth below
``log2(number of times)``).

**Space-time Lévy area** (``levy_area=True``). The tree then carries, per interval,
``W(b) - W(a)`` jointly with ``H_(a,b) = (1 / (b - a)) int_a^b (W_s - W_a) ds -
(W_b - W_a) / 2``, which is ``N(0, (b - a) / 12)`` and independent of ``W_b - W_a``
(Foster, "Numerical approximations for stochastic differential equations", DPhil
thesis, Oxford 2020, Thm 6.1.4, as used by diffrax's ``VirtualBrownianTree``). A split
of ``[a, b]`` (width ``h``) at ``a + p h`` into halves with ``(w1, H1)``, ``(w2, H2)``
obeys ``h H = h1 H1 + h2 H2 + (h2 w1 - h1 w2) / 2`` and, given ``(w, H)`` of the whole,
has the Gaussian law (derived by conditioning; ``q = 1 - p``)::

    w1 = p w + 6 p q H + sqrt(h p q (1 - 3 p q)) Z1
    H1 = p^2 H - sqrt(h) p^(5/2) q^(1/2) / (2 sqrt(1 - 3 p q)) Z1 + sqrt(h p q^3 / (12 (1 - 3 p q))) Z2

used with ``p = 1/2`` for the tree (``w1 = w/2 + 3H/2 + sqrt(h)/4 Z1``,
``H1,2 = H/4 - sqrt(h)/8 Z1 +- sqrt(h/48) Z2``) and with the leaf fraction inside a
leaf. Lévy areas of arbitrary intervals come from ``I(t) = int_t0^t W_s ds``:
``H_(a,b) = (I(b) - I(a)) / (b - a) - (W(a) + W(b)) / 2``. They are exact (jointly with
``W``) for intervals whose end points lie in pairwise different leaves, in particular
for grid intervals at least ``tol`` long, and for any interval between dyadic points.
The Lévy-area tree draws a different (equally valid) path than ``levy_area=False``.

**Implementation.** Every output (a value ``W(t)``, an increment, a Lévy area) is a
linear form in the normals of the nodes on its times' root-to-leaf paths, with
coefficients that depend on the times only. The host computes them in float64 (the
Lévy-Ciesielski form of the recursion, or for the Lévy-area tree a backward (adjoint)
sweep through it), merging the terms of the ancestors shared by the two ends of an
interval, so that the cancellation in increments and areas happens once, in float64,
and float32 increments keep float32 relative accuracy however short. The device draws the normals of the
distinct nodes of all queried times once, element block by element block, and forms
all outputs with one ``embedding_bag`` (a fused gather and weighted sum) per block,
in float64 for float64 paths and in float32 otherwise; float32 and float64 paths of
one seed agree to float32 round-off. Normals come from SplitMix64 (Steele, Lea &
Flood, OOPSLA 2014) streams keyed by ``(seed, node)`` and indexed by the element,
in 64-bit integer torch ops, with the Box--Muller transform of the two 32-bit halves
of each output; the pair ``(r cos, r sin)`` feeds elements ``2j, 2j + 1`` of a node
(or its ``(Z1, Z2)`` in the Lévy-area tree). Element ``i`` (row-major in ``shape``)
depends on ``(seed, i)`` only, so a larger ``shape`` extends the paths of a smaller one.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sciml.validation import check_int, check_real

__all__ = ["BrownianPath", "GridBrownian", "brownian_increments"]

_DEFAULT_DEPTH = 20  # default tol = (t1 - t0) / 2^20
_MAX_DEPTH = 52  # the float64 resolution of a time inside [t0, t1]
_SLACK = 1e-12  # queries may exceed [t0, t1] by this fraction of t1 - t0
_BLOCK_CPU = 1 << 18  # (node, element) pairs drawn per block on the CPU: cache-sized
_BLOCK_OTHER = 1 << 22  # ... and on accelerators

# SplitMix64 (Steele et al. 2014)
_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def _signed(x: int) -> int:
    """The int64 with the bits of the uint64 ``x``."""
    return x - (1 << 64) if x >= 1 << 63 else x


def _mix64_numpy(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(_MUL1)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(_MUL2)
    return x ^ (x >> np.uint64(31))


def _normal_pairs(keys: torch.Tensor, lanes: torch.Tensor, scratch: tuple) -> torch.Tensor:
    """Independent standard normals ``(2, n_nodes, n_lanes)`` for node keys
    ``(n_nodes,)`` and lanes ``(n_lanes,)`` (int64). ``x = mix64(key + lane)`` (the
    SplitMix64 stream of ``key``) gives from its unsigned low half ``lo`` the uniform
    ``u1 = (lo + 1/2) / 2^32`` and from its signed high half ``hi`` the angle ``theta =
    2 pi hi / 2^32`` in ``[-pi, pi)``; Box--Muller gives ``r cos(theta)``, ``r sin(theta)``
    with ``r = sqrt(-2 log u1)``. ``scratch`` holds flat buffers (int64, int64, float,
    float) of ``n_nodes * n_lanes`` entries or more (twice that for the third); the float
    dtype is that of the result. Logical right shifts are arithmetic shifts with the
    sign-extended bits masked off."""
    n, c = keys.numel(), lanes.numel()
    x, tmp = scratch[0][:n * c].view(n, c), scratch[1][:n * c].view(n, c)
    out, sine = scratch[2][:2 * n * c].view(2, n, c), scratch[3][:n * c].view(n, c)
    torch.add(keys[:, None], lanes[None, :], out=x)
    for shift, mul in ((30, _MUL1), (27, _MUL2), (31, None)):
        torch.bitwise_right_shift(x, shift, out=tmp).bitwise_and_((1 << (64 - shift)) - 1)
        x.bitwise_xor_(tmp)
        if mul is not None:
            x.mul_(_signed(mul))
    radius, angle = out[1], out[0]
    radius.copy_(torch.bitwise_and(x, 0xFFFFFFFF, out=tmp))  # the unsigned low half
    radius.add_(0.5).mul_(2.0**-32).log_().mul_(-2.0).sqrt_()  # 0 < u1 <= 1 also after float32 rounding
    angle.copy_(torch.bitwise_right_shift(x, 32, out=tmp)).mul_(2 * math.pi * 2.0**-32)  # the signed high half
    torch.sin(angle, out=sine)
    angle.cos_().mul_(radius)
    torch.mul(sine, radius, out=radius)
    return out


def _refinement_tables(depth: int, span: float) -> tuple[np.ndarray, np.ndarray]:
    """The Lévy-area tree's level recursion ``state' = T[k, side] state + G[k, side]
    (Z1, Z2)`` from the state ``(W(a), W(b), H_(a,b), I(a))`` of a level-``k`` interval
    to that of its child ``side`` (0 left, 1 right); shapes ``(depth, 2, 4, 4)`` and
    ``(depth, 2, 4, 2)``. With ``h = h_k`` and ``m`` the midpoint::

        W(m) = (W(a) + W(b)) / 2 + 3/2 H + sqrt(h)/4 Z1
        H_(a,m), H_(m,b) = H/4 - sqrt(h)/8 Z1 +- sqrt(h/48) Z2
        I(m) = I(a) + (h/2) (H_(a,m) + (W(a) + W(m)) / 2)
             = I(a) + h (3/8 W(a) + 1/8 W(b) + H/2) + (h/2) sqrt(h/48) Z2
    """
    T = np.zeros((depth, 2, 4, 4))
    G = np.zeros((depth, 2, 4, 2))
    for k in range(depth):
        h = span / 2.0**k
        r, s = math.sqrt(h), math.sqrt(h / 48)
        T[k, 0, 0, 0] = T[k, 1, 1, 1] = 1.0  # the left child keeps W(a), the right W(b)
        T[k, 0, 1] = T[k, 1, 0] = [0.5, 0.5, 1.5, 0.0]
        G[k, 0, 1] = G[k, 1, 0] = [r / 4, 0.0]
        for side, sign in ((0, 1.0), (1, -1.0)):
            T[k, side, 2, 2] = 0.25
            G[k, side, 2] = [-r / 8, sign * s]
        T[k, 0, 3, 3] = 1.0
        T[k, 1, 3] = [0.375 * h, 0.125 * h, 0.5 * h, 1.0]
        G[k, 1, 3] = [0.0, 0.5 * h * s]
    return T, G


def _number(name: str, value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a number or a 0-d tensor, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


class BrownianPath:
    """Brownian motion ``W`` on ``[t0, t1]``, ``W(t0) = 0``, with independent
    components of shape ``shape``, defined by a virtual Brownian tree; a pure function
    of ``(seed, t)`` (see the module docstring for the construction and what is exact).

    Args:
        t0, t1: the interval, finite with ``t0 < t1``.
        shape: the shape of ``W(t)``, e.g. ``(batch, noise_dim)``.
        seed: selects the path; any Python int.
        dtype: floating dtype of the returned values.
        device: where values are generated and returned (default: torch's default
            device).
        tol: largest leaf width of the tree, default ``(t1 - t0) / 2^20``. Times at
            least ``tol`` apart have the exact joint law; the cost of a query grows
            with the depth ``L = ceil(log2((t1 - t0) / tol))``.
        levy_area: carry the space-time Lévy area ``H`` (for
            :meth:`space_time_levy_area` and :meth:`increments_with_levy_area`).

    Times are taken as float64 and may exceed ``[t0, t1]`` by ``1e-12 (t1 - t0)``.

    Example::

        >>> bm = BrownianPath(0.0, 1.0, (3, 2), seed=7)
        >>> bm(0.25, 0.5).shape
        torch.Size([3, 2])
        >>> torch.allclose(bm.increments([0.0, 0.25, 0.5])[1], bm(0.25, 0.5))
        True
    """

    def __init__(self, t0: float, t1: float, shape: Sequence[int], *, seed: int = 0,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
                 tol: float | None = None, levy_area: bool = False):
        t0, t1 = _number("t0", t0), _number("t1", t1)
        if not (math.isfinite(t0) and math.isfinite(t1) and t0 < t1):
            raise ValueError(f"need finite t0 < t1, got t0={t0}, t1={t1}")
        if isinstance(shape, (int, str, torch.Tensor)) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            raise ValueError(f"shape must be a tuple of positive ints such as (batch, noise_dim), got {shape!r}")
        seed = check_int("seed", seed, minimum=None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating torch dtype such as torch.float32, got {dtype!r}")
        span = t1 - t0
        depth = _DEFAULT_DEPTH
        if tol is not None:
            tol = check_real("tol", tol, positive=True)
            depth = 0
            while span / 2.0**depth > tol:
                depth += 1
            if depth > _MAX_DEPTH:
                raise ValueError(f"tol={tol} needs a tree of depth {depth} on [{t0}, {t1}], beyond the float64 "
                                 f"resolution (depth {_MAX_DEPTH}); use tol >= {span / 2.0**_MAX_DEPTH:.3g}")
        self.t0, self.t1 = t0, t1
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = torch.get_default_device() if device is None else torch.device(device)
        self.levy_area = bool(levy_area)
        self.seed = seed
        self.depth = depth
        self.tol = span / 2.0**depth  # the leaf width in use
        # float64 for float64 paths on devices that have it (Apple's MPS does not), else float32
        wide = dtype == torch.float64 and self.device.type != "mps"
        self._compute = torch.float64 if wide else torch.float32
        self._block = _BLOCK_CPU if self.device.type == "cpu" else _BLOCK_OTHER
        if self.levy_area:
            self._T, self._G = _refinement_tables(depth, span)
        self._seed_key = _mix64_numpy(np.array([(seed + _GOLDEN) & _MASK64], dtype=np.uint64))
        # element i draws from lane i with Lévy area (its pair is (Z1, Z2)), else from lane i // 2,
        # so it depends on (seed, i) only: a larger shape extends a smaller one (row-major)
        self._numel = math.prod(self.shape)
        n_lanes = self._numel if self.levy_area else (self._numel + 1) // 2
        lanes = (np.arange(1, n_lanes + 1, dtype=np.uint64) * np.uint64(_GOLDEN)).view(np.int64)
        self._lanes = torch.from_numpy(lanes).to(self.device)

    def __repr__(self) -> str:
        return (f"BrownianPath(t0={self.t0}, t1={self.t1}, shape={self.shape}, seed={self.seed}, "
                f"dtype={self.dtype}, device={self.device}, tol={self.tol:.3g}, levy_area={self.levy_area})")

    # ---------------------------------------------------------------- public API
    def __call__(self, ta, tb=None) -> torch.Tensor:
        """``W(ta)`` if ``tb`` is None, else ``W(tb) - W(ta)`` (``ta <= tb``); shape
        ``shape``. Costs ``O(L)`` normals per element."""
        ta = _number("ta", ta)
        if tb is None:
            return self._query(np.array([ta]), values=True).view(self.shape)
        tb = _number("tb", tb)
        if ta > tb:
            raise ValueError(f"need ta <= tb for the increment W(tb) - W(ta), got ta={ta}, tb={tb}")
        return self._query(np.array([ta, tb])).view(self.shape)

    def increments(self, ts) -> torch.Tensor:
        """``W(ts[i+1]) - W(ts[i])`` for a non-decreasing grid ``ts`` (1-D sequence or
        tensor of at least two times); shape ``(len(ts) - 1, *shape)``. One vectorised
        pass over all times; equals the per-interval calls to round-off."""
        ts = self._grid(ts)
        return self._query(ts).view(len(ts) - 1, *self.shape)

    def space_time_levy_area(self, ta, tb) -> torch.Tensor:
        """``H_(a,b) = (1 / (b - a)) int_a^b (W_s - W_a) ds - (W_b - W_a) / 2`` for
        ``a = ta <= b = tb`` (zero if ``a = b``); shape ``shape``. Needs ``levy_area=True``."""
        self._need_levy("space_time_levy_area")
        ta, tb = _number("ta", ta), _number("tb", tb)
        if ta > tb:
            raise ValueError(f"need ta <= tb for the Lévy area over [ta, tb], got ta={ta}, tb={tb}")
        return self._query(np.array([ta, tb]), areas=True)[1].view(self.shape)

    def increments_with_levy_area(self, ts) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dW, H)`` over the intervals of a non-decreasing grid ``ts``, each of shape
        ``(len(ts) - 1, *shape)``, in one vectorised pass. Needs ``levy_area=True``."""
        self._need_levy("increments_with_levy_area")
        ts = self._grid(ts)
        out = self._query(ts, areas=True).view(2, len(ts) - 1, *self.shape)
        return out[0], out[1]

    # ------------------------------------------------------------------ internals
    def _need_levy(self, method: str) -> None:
        if not self.levy_area:
            raise ValueError(f"{method} needs the Lévy-area tree; construct BrownianPath(..., levy_area=True)")

    @staticmethod
    def _grid(ts) -> np.ndarray:
        if isinstance(ts, torch.Tensor):
            if ts.dim() != 1:
                raise ValueError(f"ts must be one-dimensional, got shape {tuple(ts.shape)}")
            ts = ts.detach().to("cpu", torch.float64).numpy()
        else:
            try:
                ts = np.array([float(t) for t in ts], dtype=np.float64)
            except TypeError as err:
                raise TypeError(f"ts must be a 1-D tensor or a sequence of numbers, got {type(ts).__name__}") from err
        if ts.size < 2:
            raise ValueError(f"ts needs at least two times to have an increment, got {ts.size}")
        down = np.diff(ts) < 0
        if np.any(down):
            i = int(np.argmax(down))
            raise ValueError(f"ts must be non-decreasing; ts[{i}]={ts[i]} > ts[{i + 1}]={ts[i + 1]}")
        return ts

    def _query(self, t: np.ndarray, values: bool = False, areas: bool = False) -> torch.Tensor:
        """Rows ``W(t_i)`` (``values``), or ``W(t_(i+1)) - W(t_i)`` followed, with
        ``areas``, by ``H_(t_i, t_(i+1))``; shape ``(rows, numel)`` in ``dtype``."""
        span = self.t1 - self.t0
        bad = ~np.isfinite(t) | (t < self.t0 - _SLACK * span) | (t > self.t1 + _SLACK * span)
        if np.any(bad):
            raise ValueError(f"query time {t[np.argmax(bad)]} lies outside the Brownian path's interval "
                             f"[{self.t0}, {self.t1}]; build the BrownianPath on an interval covering all times")
        t = np.clip(t, self.t0, self.t1)
        times, where = np.unique(t, return_inverse=True)
        where = where.reshape(-1)
        if self.levy_area:
            coef, integral, nodes = self._levy_coefficients(times, areas)
        else:
            coef, integral, nodes = self._schauder_coefficients(times)
        uniq, row = np.unique(nodes, return_inverse=True)
        pairs = coef.shape[-1]
        # row of Z_c(node) in the table of drawn normals, (times, slots, pairs)
        row = row.reshape(nodes.shape)[..., None] + len(uniq) * np.arange(pairs)
        if values:
            return self._forms(uniq, row[where], coef[where])
        a, b = where[:-1], where[1:]
        shared = (nodes[a] == nodes[b])[..., None]  # a common ancestor: merge its two terms
        index = np.concatenate([row[b], row[a]], axis=1)
        forms = [(coef[b], -coef[a])]
        if areas:  # H = (I(b) - I(a)) / (b - a) - (W(a) + W(b)) / 2, and 0 on an empty interval
            width = np.diff(t)
            inv = np.divide(1.0, width, out=np.zeros_like(width), where=width > 0)[:, None, None]
            half = 0.5 * (width > 0)[:, None, None]
            forms.append((integral[b] * inv - half * coef[b], -integral[a] * inv - half * coef[a]))
        weight = [np.concatenate([xb + shared * xa, ~shared * xa], axis=1) for xb, xa in forms]
        return self._forms(uniq, np.concatenate([index] * len(forms)), np.concatenate(weight))

    def _forms(self, nodes: np.ndarray, index: np.ndarray, weight: np.ndarray) -> torch.Tensor:
        """``out[i] = sum_j weight[i, j] Z[index[i, j]]`` over the normals ``Z`` of the
        distinct ``nodes`` (``Z[c n + u]`` is normal ``c`` of node ``u``); ``index`` and
        ``weight`` are ``(rows, ...)``; returns ``(rows, numel)`` in ``dtype``."""
        rows, n = index.shape[0], len(nodes)
        keys = _mix64_numpy(_mix64_numpy(nodes.astype(np.uint64) + np.uint64(_GOLDEN)) ^ self._seed_key)
        keys = torch.from_numpy(keys.view(np.int64)).to(self.device)
        index = torch.from_numpy(index.reshape(rows, -1)).to(self.device)
        weight = torch.from_numpy(weight.reshape(rows, -1)).to(self.device, self._compute)
        lanes = self._lanes
        if not self.levy_area:  # lane j feeds elements 2j (r cos) and 2j + 1 (r sin)
            index, weight = torch.cat([index, index + n]), torch.cat([weight, weight])
        n_lanes = lanes.numel()
        block = max(1, min(n_lanes, self._block // n))
        scratch = (torch.empty(n * block, dtype=torch.int64, device=self.device),
                   torch.empty(n * block, dtype=torch.int64, device=self.device),
                   torch.empty(2 * n * block, dtype=self._compute, device=self.device),
                   torch.empty(n * block, dtype=self._compute, device=self.device))
        out = torch.empty(rows, n_lanes, 1 if self.levy_area else 2, dtype=self._compute, device=self.device)
        for j0 in range(0, n_lanes, block):
            j1 = min(j0 + block, n_lanes)
            z = _normal_pairs(keys, lanes[j0:j1], scratch).view(2 * n, j1 - j0)
            sums = F.embedding_bag(index, z, per_sample_weights=weight, mode="sum")
            out[:, j0:j1] = sums.view(-1, rows, j1 - j0).permute(1, 2, 0)
        return out.view(rows, -1)[:, :self._numel].to(self.dtype).contiguous()

    def _locate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tree coordinates of float64 times in ``[t0, t1]``: the leaf index ``J``
        (``2^L`` at ``t1``), the fraction ``p`` in ``[0, 1)`` of ``t`` in its leaf, and the
        level ``final`` where the descent stops: ``L`` inside a leaf, ``e`` for a dyadic
        time that first appears as a node at level ``e`` (0 for ``t0`` and ``t1``)."""
        depth = self.depth
        scaled = (t - self.t0) / (self.t1 - self.t0) * 2.0**depth  # the power-of-two scaling is exact
        leaf = np.floor(scaled)
        p = scaled - leaf
        leaf = leaf.astype(np.int64)
        low_bit = np.where(leaf > 0, leaf & -leaf, 1 << depth)
        trailing = np.frexp(low_bit.astype(np.float64))[1] - 1
        final = np.where(p > 0, depth, depth - trailing)
        return leaf, p, final

    def _schauder_coefficients(self, t: np.ndarray) -> tuple[np.ndarray, None, np.ndarray]:
        """Coefficients ``(n, L + 2, 1)`` and nodes ``(n, L + 2)`` of ``W(t)`` in the tree
        without Lévy area, from the Lévy--Ciesielski form of the midpoint recursion::

            W(t) = (t - t0) / sqrt(t1 - t0) Z_root + sum_(k < L) sqrt(h_k) / 2 tent_k(t) Z_(k, j_k(t))
                   + sqrt(h_L p q) Z_leaf

        with ``tent_k`` the hat function of the level-``k`` interval ``j_k(t)`` containing
        ``t`` (1 at its midpoint, 0 at its ends). Slot 0 is the root (node 0), slot
        ``1 + k`` node ``2^k + j_k``, slot ``L + 1`` the leaf (node ``2^L + J``)."""
        depth, span = self.depth, self.t1 - self.t0
        leaf, p, final = self._locate(t)
        levels = np.arange(depth)
        below = depth - levels
        frac = ((leaf[:, None] & ((1 << below) - 1)) + p[:, None]) / 2.0**below  # position in the level-k interval
        coef = np.empty((len(t), depth + 2, 1))
        coef[:, 0, 0] = (leaf + p) / 2.0**depth * math.sqrt(span)
        coef[:, 1:depth + 1, 0] = np.sqrt(span / 2.0**levels) / 2 * (1.0 - np.abs(2.0 * frac - 1.0))
        coef[:, depth + 1, 0] = np.sqrt(span / 2.0**depth * p * (1.0 - p))
        nodes = np.zeros((len(t), depth + 2), dtype=np.int64)
        nodes[:, 1:depth + 1] = np.where(levels < final[:, None], (1 << levels) + (leaf[:, None] >> below), 0)
        nodes[:, depth + 1] = np.where(p > 0, (1 << depth) + leaf, 0)
        coef, nodes = self._trim(coef, nodes, final, p)
        return coef, None, nodes

    def _levy_coefficients(self, t: np.ndarray, integral: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Coefficients ``(n, L + 2, 2)`` of ``W(t)`` and, if ``integral``, of ``I(t) =
        int_t0^t W_s ds`` on ``(Z1, Z2)`` of the nodes ``(n, L + 2)`` (slots as in
        :meth:`_schauder_coefficients`) in the Lévy-area tree: the output functionals on
        the final state ``(W(a), W(b), H_(a,b), I(a))`` propagated back through
        :func:`_refinement_tables` to the root state ``(0, sqrt(t1 - t0) Z1,
        sqrt((t1 - t0) / 12) Z2, 0)``."""
        depth, span = self.depth, self.t1 - self.t0
        leaf, p, final = self._locate(t)
        n, rows = len(t), (2 if integral else 1)
        interior, right_end = p > 0, leaf == 1 << depth
        coef = np.zeros((n, rows, depth + 2, 2))
        # inside a leaf of width h: the split law at p; at a node: W = W(a), I = I(a);
        # at t1: W = W(b), I = I(a) + (t1 - t0) (H + (W(a) + W(b)) / 2)
        h, q = span / 2.0**depth, 1.0 - p
        pq = p * q
        c = np.sqrt(np.maximum(1.0 - 3.0 * pq, 0.25))  # 1 - 3pq lies in [1/4, 1]
        s11 = np.sqrt(h * pq) * c
        s21 = -math.sqrt(h) * p**2 * np.sqrt(pq) / (2.0 * c)
        s22 = np.sqrt(h * pq * q * q / 12.0) / c
        zero = np.zeros(n)
        v = np.zeros((n, rows, 4))
        v[:, 0] = np.where(interior[:, None], np.stack([q, p, 6.0 * pq, zero], -1),
                           np.where(right_end[:, None], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]))
        coef[:, 0, depth + 1, 0] = s11
        if integral:  # I(t) = I(a) + h p (H_(a,t) + W(a) + (W(t) - W(a)) / 2)
            hp = h * p
            inside = np.stack([hp * (1.0 - p / 2), hp * p / 2, hp * (p * p + 3.0 * pq), zero + 1.0], -1)
            v[:, 1] = np.where(interior[:, None], inside,
                               np.where(right_end[:, None], [span / 2, span / 2, span, 1.0], [0.0, 0.0, 0.0, 1.0]))
            coef[:, 1, depth + 1, 0] = hp * (s21 + s11 / 2)
            coef[:, 1, depth + 1, 1] = hp * s22
        nodes = np.zeros((n, depth + 2), dtype=np.int64)
        nodes[:, depth + 1] = np.where(interior, (1 << depth) + leaf, 0)
        for k in range(depth - 1, -1, -1):
            active = final > k
            side = (leaf >> (depth - 1 - k)) & 1
            coef[:, :, 1 + k] = np.where(active[:, None, None], v @ self._G[k, side], 0.0)
            v = np.where(active[:, None, None], v @ self._T[k, side], v)
            nodes[:, 1 + k] = np.where(active, (1 << k) + (leaf >> (depth - k)), 0)
        coef[:, :, 0, 0] = v[:, :, 1] * math.sqrt(span)
        coef[:, :, 0, 1] = v[:, :, 2] * math.sqrt(span / 12.0)
        coef, nodes = self._trim(coef, nodes, final, p)
        return coef[:, 0], (coef[:, 1] if integral else None), nodes

    @staticmethod
    def _trim(coef: np.ndarray, nodes: np.ndarray, final: np.ndarray, p: np.ndarray):
        """Drop the slots no time uses (those past every time's final level, and the
        leaf slot when no time lies inside a leaf); slots are the second-to-last axis
        of ``coef`` and the last of ``nodes``."""
        if np.any(p > 0):
            return coef, nodes
        used = int(final.max()) + 1
        return coef[..., :used, :], nodes[:, :used]


class GridBrownian:
    """Exact Brownian increments on a fixed-step solver's own grid, drawn at once from
    a seeded generator: ``dW_n ~ N(0, h_n)`` and, independently, the space-time Lévy
    areas ``H_n ~ N(0, h_n / 12)``. The same seed and grid give the same increments
    (which is all the reversible adjoint needs); for queries at arbitrary times use
    :class:`BrownianPath`."""

    def __init__(self, shape: tuple[int, ...], seed: int, dtype: torch.dtype, device: torch.device):
        self.shape, self.seed, self.dtype, self.device = tuple(shape), seed, dtype, device

    def increments_with_levy_area(self, grid: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        h = torch.tensor(grid, dtype=torch.float64).diff().to(device=self.device, dtype=self.dtype)
        h = h.view(-1, *([1] * len(self.shape)))
        draws = torch.randn((2, h.shape[0], *self.shape), generator=gen, dtype=self.dtype, device=self.device)
        return draws[0] * h.sqrt(), draws[1] * (h / 12).sqrt()

    def increments(self, grid: list[float]) -> torch.Tensor:
        return self.increments_with_levy_area(grid)[0]

    def space_time_levy_area(self, ta, tb):
        raise ValueError("GridBrownian only serves whole fixed-step grids; pass a BrownianPath for other queries")


def brownian_increments(bm, grid: list[float], levy_area: bool, like: torch.Tensor):
    """Increments ``(len(grid) - 1, *shape)`` of ``bm`` on ``grid`` (and the space-time
    Lévy areas, else ``None``), in ``like``'s dtype: one vectorised call for a path
    with ``increments`` (:class:`BrownianPath`, :class:`GridBrownian`), one call per
    step otherwise (e.g. torchsde's ``BrownianInterval``)."""
    if hasattr(bm, "increments"):
        if levy_area:
            return bm.increments_with_levy_area(grid)
        return bm.increments(grid), None
    pairs = list(zip(grid[:-1], grid[1:]))
    dws = torch.stack([bm(a, b) for a, b in pairs]).to(like.dtype)
    if not levy_area:
        return dws, None
    return dws, torch.stack([bm.space_time_levy_area(a, b) for a, b in pairs]).to(like.dtype)
