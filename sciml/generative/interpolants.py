"""Stochastic interpolants (Albergo, Boffi & Vanden-Eijnden, arXiv 2303.08797).

``x_t = alpha(t) x0 + beta(t) x1 + gamma(t) z``, ``z ~ N(0, I)``, with ``alpha(0) =
beta(1) = 1``, ``alpha(1) = beta(0) = 0`` and ``gamma(0) = gamma(1) = 0``: the spatially
linear family of the paper's Sec. 4.2. The density of ``x_t`` is transported by the
velocity ``b(t, x) = E[alpha' x0 + beta' x1 + gamma' z | x_t = x]``; the denoiser is
``eta(t, x) = E[z | x_t = x]`` (the paper's sign) and the score ``s = -eta / gamma``.

Families (``alpha``, ``beta``): ``"linear"`` (1 - t, t), ``"trig"`` (cos, sin of pi t / 2),
``"encoder_decoder"`` (cos^2(pi t) on either half, with ``gamma = sin^2(pi t)``, so
``x_{1/2} = z``), ``"mirror"`` (0, 1: both ends are the data), and the one-sided ones
``"one_sided_linear"``, ``"one_sided_trig"``, ``"vp"`` (sqrt(1 - t^2), t), in which ``x0``
is the Gaussian itself and ``gamma = 0``.
Noise ``gamma``: ``"sqrt"`` ``sqrt(a t (1 - t))``, ``"bsquared"`` ``a t (1 - t)``,
``"sinesquared"`` ``a sin^2(pi t)``, ``"zero"``.
"""

from __future__ import annotations

import math

import torch

from sciml.validation import ArgumentTypeError, check_choice, check_real

__all__ = ["FAMILIES", "GAMMAS", "Interpolant"]

FAMILIES = ("linear", "trig", "encoder_decoder", "mirror", "one_sided_linear", "one_sided_trig", "vp")
GAMMAS = ("sqrt", "bsquared", "sinesquared", "zero")
ONE_SIDED = ("one_sided_linear", "one_sided_trig", "vp")
HALF_PI = math.pi / 2


class Interpolant:
    """``x_t = alpha x0 + beta x1 + gamma z`` with exact time derivatives.

    Args:
        family: one of :data:`FAMILIES`.
        gamma: one of :data:`GAMMAS` (ignored by ``"encoder_decoder"``, which fixes
            ``sin^2(pi t)``; one-sided families have ``gamma = 0``).
        a: the noise scale of ``gamma``.
    """

    def __init__(self, family: str = "linear", gamma: str = "sqrt", a: float = 1.0):
        check_choice("family", family, FAMILIES)
        check_choice("gamma", gamma, GAMMAS)
        a = check_real("a", a, positive=True)
        if family == "encoder_decoder":
            gamma, a = "sinesquared", 1.0
        if family in ONE_SIDED:
            gamma = "zero"
        if family == "mirror" and gamma == "zero":
            raise ValueError("the mirror interpolant x_t = x1 + gamma z needs gamma > 0 inside (0, 1)")
        self.family, self.gamma_kind, self.a = family, gamma, float(a)

    @property
    def one_sided(self) -> bool:
        """``x0`` is the standard Gaussian (pass ``x0 = z``; there is no separate noise)."""
        return self.family in ONE_SIDED

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(alpha, beta, gamma, alpha', beta', gamma')`` at ``t`` (any shape, every entry in
        ``[0, 1]``; NaN, Inf or a time outside raises ``ValueError``: one host read)."""
        t = torch.as_tensor(t)
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        if not bool(((t >= 0) & (t <= 1)).all()):
            bad = t[~((t >= 0) & (t <= 1))].flatten()
            raise ValueError(f"interpolant times must lie in [0, 1], got {bad.numel()} outside (e.g. {float(bad[0])})")
        f = self.family
        if f in ("linear", "one_sided_linear"):
            alpha, beta, da, db = 1 - t, t, -torch.ones_like(t), torch.ones_like(t)
        elif f in ("trig", "one_sided_trig"):
            alpha, beta = torch.cos(HALF_PI * t), torch.sin(HALF_PI * t)
            da, db = -HALF_PI * beta, HALF_PI * alpha
        elif f == "encoder_decoder":
            c2 = torch.cos(math.pi * t) ** 2
            dc2 = -math.pi * torch.sin(2 * math.pi * t)
            first = t < 0.5
            alpha, beta = torch.where(first, c2, 0 * t), torch.where(first, 0 * t, c2)
            da, db = torch.where(first, dc2, 0 * t), torch.where(first, 0 * t, dc2)
        elif f == "mirror":
            alpha, beta, da, db = torch.zeros_like(t), torch.ones_like(t), torch.zeros_like(t), torch.zeros_like(t)
        else:  # vp
            alpha, beta = torch.sqrt((1 - t * t).clamp_min(0)), t
            da, db = -t / alpha.clamp_min(1e-12), torch.ones_like(t)
        gamma, dg = self._gamma(t)
        return alpha, beta, gamma, da, db, dg

    def gamma_dgamma(self, t: torch.Tensor) -> torch.Tensor:
        """``gamma gamma' = (gamma^2)' / 2``, smooth at the ends even where ``gamma'`` is not
        (``"sqrt"``: ``a (1 - 2t) / 2``); it is what ``b = v - gamma gamma' s`` needs."""
        if self.gamma_kind == "sqrt":
            return self.a * (1 - 2 * t) / 2
        gamma, dg = self._gamma(t)
        return gamma * dg

    def _gamma(self, t):
        a, g = self.a, self.gamma_kind
        if g == "zero":
            return torch.zeros_like(t), torch.zeros_like(t)
        if g == "sqrt":
            gamma = torch.sqrt(a * t * (1 - t)).clamp_min(0)
            return gamma, a * (1 - 2 * t) / (2 * gamma.clamp_min(1e-12))
        if g == "bsquared":
            return a * t * (1 - t), a * (1 - 2 * t)
        return a * torch.sin(math.pi * t) ** 2, a * math.pi * torch.sin(2 * math.pi * t)

    @staticmethod
    def _col(c, x):
        return c.reshape(-1, *([1] * (x.dim() - 1))) if c.dim() else c

    @staticmethod
    def _times(t, x0: torch.Tensor, x1: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """``t`` in ``x1``'s dtype after checking that ``x0``, ``x1`` (and ``z``) share a
        floating shape ``(batch, ...)`` and ``t`` is a scalar or ``(batch,)``."""
        for name, v in (("x0", x0), ("x1", x1), ("z", z)):
            if v is None:
                continue
            if not isinstance(v, torch.Tensor) or not v.is_floating_point():
                got = v.dtype if isinstance(v, torch.Tensor) else type(v).__name__
                raise ArgumentTypeError(f"{name} must be a floating-point tensor (batch, ...), got {got}")
            if v.shape != x1.shape:
                raise ValueError(f"{name} must have the shape of x1, {tuple(x1.shape)}, got {tuple(v.shape)}")
        t = torch.as_tensor(t).to(x1)
        if t.dim() > 1 or (t.dim() == 1 and x1.dim() > 0 and t.shape[0] != x1.shape[0]):
            raise ValueError(f"t must be a scalar or one time per sample ({x1.shape[0]},), got shape {tuple(t.shape)}")
        return t

    def sample(self, t: torch.Tensor, x0: torch.Tensor, x1: torch.Tensor, z: torch.Tensor | None = None):
        """``x_t`` for per-sample times ``t`` ``(batch,)`` (or a scalar) in ``[0, 1]``."""
        t = self._times(t, x0, x1, z)
        alpha, beta, gamma, *_ = (self._col(c, x1) for c in self.coefficients(t))
        out = alpha * x0 + beta * x1
        return out if z is None or self.one_sided else out + gamma * z

    def velocity_target(self, t, x0, x1, z=None):
        """``alpha' x0 + beta' x1 + gamma' z``: the regression target of ``b``."""
        t = self._times(t, x0, x1, z)
        *_, da, db, dg = (self._col(c, x1) for c in self.coefficients(t))
        out = da * x0 + db * x1
        return out if z is None or self.one_sided else out + dg * z
