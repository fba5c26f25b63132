"""Markov-approximated fractional Brownian motion (MA-fBM) and exact fBM references.

A fractional Brownian motion ``B^H`` with Hurst index ``H`` in (0, 1) is written as a
superposition of Ornstein--Uhlenbeck processes driven by one Brownian motion ``W``
(Carmona & Coutin 1998; Harms & Stefanovits 2019) and truncated to ``K`` speeds
``gamma_k`` (Daems, Opper, Crevecoeur & Birdal, "Variational inference for SDEs driven
by fractional noise", ICLR 2024, arXiv 2310.12975, Sec. 3; specs/nde.md Sec. 3.1-3.4)::

    dY_k = -gamma_k Y_k dt + dW_t,                      k = 1..K (one W for all k)
    type II:  Y_k(0) = 0,                 B_hat_t = sum_k omega_k Y_k(t)
    type I:   Y(0) ~ N(0, C), C_ij = 1 / (gamma_i + gamma_j) (stationary law),
              B_hat_t = sum_k omega_k (Y_k(t) - Y_k(0)).

The two fBM types are (specs/nde.md Sec. 3.1)::

    type II (Riemann--Liouville):   B_t ∝ int_0^t (t - s)^(H - 1/2) dW_s
    type I (Mandelbrot--van Ness):  B_t ∝ int_-inf^t [(t - s)_+^(H - 1/2) - (-s)_+^(H - 1/2)] dW_s

**Normalisation.** Throughout this module the target ``B^H`` is scaled to unit variance
at ``t = 1``: ``Var(B^H_t) = t^(2H)`` for both types. Type I is then the standard fBM
with covariance ``(t^2H + s^2H - |t - s|^2H) / 2``. The kernels above with the prefactor
``1 / Gamma(H + 1/2)`` (the paper's code) have ``Var = v_H t^(2H)`` with
``v_H = 1 / (2H Gamma(H + 1/2)^2)`` (type II) and ``v_H = 1 / (Gamma(2H + 1) sin(pi H))``
(type I; equal to the spec's ``Gamma(2 - 2H) cos(pi H) / (pi H (1 - 2H))`` and smooth at
H = 1/2). So ``omega = omega_code / sqrt(v_H)``; the relative error ``epsilon`` is the
same in both normalisations (:attr:`MarkovFBM.kernel_variance` gives ``v_H``).
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch
from scipy.special import hyp2f1

from sciml.validation import check_choice, check_int

from ._checks import check_positive

__all__ = ["FractionalNoiseSDE", "MarkovFBM", "exact_fbm_covariance", "sample_exact_fbm"]

KINDS = ("I", "II")
Hurst = Union[float, torch.Tensor]

# Regularised incomplete gamma functions: power series below _SWITCH, Legendre's
# continued fraction (evaluated bottom-up at a fixed depth) at and above it. For
# a in [0.5, 2.5] both reach ~1e-15 relative accuracy against scipy.
_SWITCH = 3.0
_SERIES_TERMS = 48
_FRACTION_DEPTH = 40


def _lower_series(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))`` (x > 0;
    Abramowitz & Stegun 6.5.29)."""
    n = torch.arange(1, _SERIES_TERMS, dtype=x.dtype, device=x.device)
    terms = torch.cumprod(x.unsqueeze(-1) / (a.unsqueeze(-1) + n), dim=-1)
    return torch.exp(a * torch.log(x) - x - torch.lgamma(a + 1)) * (1 + terms.sum(-1))


def _upper_fraction_scaled(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``e^x Q(a, x) = x^a / Gamma(a) / (x + 1 - a - 1(1 - a) / (x + 3 - a - 2(2 - a) / ...))``
    (A&S 6.5.31 in even form); no ``e^-x`` factor, so it is stable for large ``x``."""
    tail = torch.zeros_like(x * a)
    for n in range(_FRACTION_DEPTH, 0, -1):
        tail = n * (n - a) / (x + (2 * n + 1) - a - tail)
    return torch.exp(a * torch.log(x) - torch.lgamma(a)) / (x + 1 - a - tail)


def _split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The series branch mask and the arguments of each branch, with dummy values in
    the other so that neither branch produces inf/NaN (which would poison gradients)."""
    small = x < _SWITCH
    return small, torch.where(small, x, torch.ones_like(x)), torch.where(small, torch.full_like(x, _SWITCH), x)


def regularized_gammainc(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Lower regularised incomplete gamma ``P(a, x) = gamma(a, x) / Gamma(a)`` for
    ``x > 0``, differentiable in ``a`` and ``x`` (``torch.special.gammainc`` is not
    differentiable in ``a``). Broadcasts ``a`` against ``x``."""
    small, xs, xc = _split(x)
    return torch.where(small, _lower_series(a, xs), 1 - torch.exp(-xc) * _upper_fraction_scaled(a, xc))


def scaled_gammaincc(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``e^x Q(a, x)`` with ``Q = 1 - P`` the upper regularised incomplete gamma, for
    ``x > 0``, differentiable in ``a`` and ``x`` and free of overflow for large ``x``."""
    small, xs, xc = _split(x)
    return torch.where(small, torch.exp(xs) * (1 - _lower_series(a, xs)), _upper_fraction_scaled(a, xc))


def _check_hurst(hurst: Hurst) -> torch.Tensor:
    """A float or one-element tensor in (0, 1), returned as a 0-d float64 tensor that
    keeps its autograd graph."""
    if isinstance(hurst, torch.Tensor):
        if hurst.numel() != 1 or not hurst.is_floating_point():
            raise ValueError(f"hurst must be a float or a one-element floating tensor, got a {hurst.dtype} tensor "
                             f"of shape {tuple(hurst.shape)}; use one MarkovFBM per Hurst index")
        value, h = float(hurst.detach()), hurst.reshape(()).to(torch.float64)
    elif isinstance(hurst, (int, float)) and not isinstance(hurst, bool):
        value, h = float(hurst), torch.tensor(float(hurst), dtype=torch.float64)
    else:
        raise TypeError(f"hurst must be a float or a one-element tensor, got {type(hurst).__name__}")
    if not 0.0 < value < 1.0:
        raise ValueError(f"hurst must lie in the open interval (0, 1), got {value}; H = 1/2 is Brownian motion, "
                         "and a learnable H is usually parameterised as torch.sigmoid(h_raw)")
    return h


def kernel_variance(hurst: torch.Tensor, kind: str) -> torch.Tensor:
    """``v_H = Var(B_1)`` of the un-normalised kernel (prefactor ``1 / Gamma(H + 1/2)``):
    ``1 / (2H Gamma(H + 1/2)^2)`` for type II, ``1 / (Gamma(2H + 1) sin(pi H))`` for type I."""
    if kind == "II":
        return torch.exp(-torch.log(2 * hurst) - 2 * torch.lgamma(hurst + 0.5))
    return torch.exp(-torch.lgamma(2 * hurst + 1)) / torch.sin(math.pi * hurst)


def _psd_factor(cov: torch.Tensor) -> torch.Tensor:
    """``L`` with ``L L^T = cov`` for a symmetric positive semi-definite ``cov``, by an
    eigendecomposition with negative round-off eigenvalues clipped to zero (robust for
    the ill-conditioned fBM and stationary-OU covariances, no jitter needed)."""
    values, vectors = torch.linalg.eigh(cov)
    return vectors * values.clamp(min=0).sqrt()


class MarkovFBM:
    """Markov approximation of a unit-variance fBM by ``K`` OU processes on one BM.

    Speeds (specs/nde.md Sec. 3.2): ``gamma_k = r^(k - (K + 1)/2)``, ``k = 1..K``,
    ``r = gamma_max^(2 / (K - 1))``, so ``gamma_1 = 1 / gamma_max`` and
    ``gamma_K = gamma_max``; for ``K = 1`` the single speed is the grid's centre, 1.

    Weights (Sec. 3.3): ``omega`` minimises ``int_0^T E[(B^H_t - B_hat_t)^2] dt``, i.e.
    solves ``A omega = b`` with ``A_ij = int_0^T E[Y_hat_i Y_hat_j] dt`` and
    ``b_k = int_0^T E[B^H_t Y_hat_k] dt`` (``Y_hat = Y`` for type II, ``Y - Y(0)`` for
    type I), in float64 and differentiable in ``H`` (incomplete gamma functions by
    :func:`regularized_gammainc` and :func:`scaled_gammaincc`).

    Args:
        hurst: ``H`` in (0, 1), a float or a one-element tensor; a tensor that requires
            grad keeps its graph through :attr:`weights` and :meth:`relative_error`
            (build one ``MarkovFBM`` per forward pass when ``H`` is learned).
        n_processes: ``K >= 1``.
        gamma_max: largest speed (> 1 when ``K > 1``; unused for ``K = 1``).
        kind: ``"II"`` (Riemann--Liouville, ``Y(0) = 0``) or ``"I"`` (Mandelbrot--van
            Ness, stationary ``Y(0)``).
        horizon: ``T > 0``, the fitting interval ``[0, T]``.
    """

    def __init__(self, hurst: Hurst, n_processes: int = 5, gamma_max: float = 20.0, kind: str = "II",
                 horizon: float = 1.0):
        self.hurst = _check_hurst(hurst)
        n_processes = check_int("n_processes", n_processes)
        self.kind = check_choice("kind", kind, KINDS)
        self.horizon = check_positive("horizon", horizon)
        self.gamma_max = check_positive("gamma_max", gamma_max)
        if n_processes > 1 and self.gamma_max <= 1:
            raise ValueError(f"gamma_max must be > 1 for n_processes > 1 (the speeds run from 1/gamma_max to "
                             f"gamma_max), got {gamma_max}; the default is 20")
        self.n_processes = n_processes
        k = torch.arange(1, n_processes + 1, dtype=torch.float64, device=self.hurst.device)
        ratio = self.gamma_max ** (2 / (n_processes - 1)) if n_processes > 1 else 1.0
        self.gammas = ratio ** (k - (n_processes + 1) / 2)  # (K,) float64

    @property
    def kernel_variance(self) -> torch.Tensor:
        """``v_H``: the variance at ``t = 1`` of the un-normalised kernel process (see the
        module docstring); ``weights * sqrt(v_H)`` are the paper code's weights."""
        return kernel_variance(self.hurst, self.kind)

    def linear_system(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(A, b, c)`` of Sec. 3.3 for the unit-variance target: ``A`` (K, K), ``b`` (K,)
        and ``c = int_0^T Var(B^H_t) dt = T^(2H + 1) / (2H + 1)``, all float64."""
        g, T, H = self.gammas, self.horizon, self.hurst
        a, x = H + 0.5, g * T
        s = g[:, None] + g[None, :]
        if self.kind == "II":
            A = (T + torch.expm1(-s * T) / s) / s
            b = T * g ** -a * regularized_gammainc(a, x) - a * g ** -(a + 1) * regularized_gammainc(a + 1, x)
        else:
            e = -torch.expm1(-x) / g
            A = (2 * T - e[:, None] - e[None, :]) / s
            b = (2 * T * g ** -a - T ** a / (g * torch.exp(torch.lgamma(a + 1)))
                 + g ** -(a + 1) * (torch.exp(-x) - scaled_gammaincc(a, x)))
        c = T ** (2 * H + 1) / (2 * H + 1)
        return A, b / self.kernel_variance.sqrt(), c

    @property
    def weights(self) -> torch.Tensor:
        """``omega`` of shape (K,), float64, the solution of ``A omega = b``."""
        A, b, _ = self.linear_system()
        return torch.linalg.solve(A, b)

    def relative_error(self) -> torch.Tensor:
        """``epsilon = (omega^T A omega - 2 b^T omega + c) / c``: the time-integrated mean
        squared error of ``B_hat`` relative to ``int_0^T Var(B^H_t) dt`` (0-d, float64)."""
        A, b, c = self.linear_system()
        w = torch.linalg.solve(A, b)
        return (w @ A @ w - 2 * b @ w + c) / c

    def variance(self, t: torch.Tensor | float) -> torch.Tensor:
        """``Var(B_hat_t) = omega^T Cov(Y_hat_t) omega`` for times ``t`` of any shape, with
        ``Cov(Y_hat_t)_ij = (1 - e^{-(gamma_i + gamma_j) t}) / (gamma_i + gamma_j)`` (type II)
        or ``(2 - e^{-gamma_i t} - e^{-gamma_j t}) / (gamma_i + gamma_j)`` (type I).
        Returns the shape of ``t``, in the dtype of a floating tensor ``t``, else float64."""
        t = t if isinstance(t, torch.Tensor) else torch.as_tensor(t, dtype=torch.float64)
        out_dtype = t.dtype if t.is_floating_point() else torch.float64
        t64 = t.to(dtype=torch.float64, device=self.gammas.device)[..., None, None]
        g = self.gammas
        s = g[:, None] + g[None, :]
        if self.kind == "II":
            cov = -torch.expm1(-s * t64) / s
        else:
            cov = -(torch.expm1(-g[:, None] * t64) + torch.expm1(-g[None, :] * t64)) / s
        w = self.weights
        return torch.einsum("i,...ij,j->...", w, cov, w).to(out_dtype)

    @property
    def stationary_covariance(self) -> torch.Tensor:
        """``C_ij = 1 / (gamma_i + gamma_j)``: the stationary covariance of the OU bank (K, K)."""
        return 1 / (self.gammas[:, None] + self.gammas[None, :])

    def stationary_sample(self, batch_shape: int | Sequence[int], generator: torch.Generator | None = None,
                          dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> torch.Tensor:
        """``Y(0) ~ N(0, C)`` (the type I start) of shape ``(*batch_shape, K)``, drawn in
        float64 and returned in ``dtype`` (default float64) on ``device``."""
        shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        device = self.gammas.device if device is None else torch.device(device)
        factor = _psd_factor(self.stationary_covariance).to(device)
        z = torch.randn(*shape, self.n_processes, generator=generator, dtype=torch.float64, device=device)
        return (z @ factor.T).to(torch.float64 if dtype is None else dtype)

    def ou_drift(self, y: torch.Tensor) -> torch.Tensor:
        """``-gamma_k Y_k`` for ``y`` of shape ``(..., K)``, in ``y``'s dtype and device."""
        return -self.gammas.to(y) * y

    def approximate_fbm(self, y: torch.Tensor, y_initial: torch.Tensor | None = None) -> torch.Tensor:
        """``B_hat = sum_k omega_k (Y_k - Y_k(0))`` from ``y`` of shape ``(..., K)``:
        ``(...)``. Type I needs ``y_initial`` (its stationary start); for type II it
        defaults to zero."""
        if y_initial is None:
            if self.kind == "I":
                raise ValueError("type I MA-fBM is sum_k omega_k (Y_k(t) - Y_k(0)): pass y_initial, the stationary "
                                 "start from stationary_sample()")
            return y @ self.weights.to(y)
        return (y - y_initial) @ self.weights.to(y)

    def check_step(self, dt: float) -> None:
        """Raise ``ValueError`` unless ``gamma_max * dt < 0.5``, the stability guard of
        explicit Euler on the fastest OU process (specs/nde.md Sec. 3.2)."""
        dt = check_positive("dt", dt)
        fastest = float(self.gammas.max())
        if fastest * dt >= 0.5:
            raise ValueError(f"dt={dt:g} is too large for the OU bank: gamma_max * dt = {fastest * dt:.4g} >= 0.5; "
                             f"use dt < {0.5 / fastest:.6g} (= 0.5 / gamma_max) or a smaller gamma_max")


def _times(ts) -> torch.Tensor:
    ts = ts if isinstance(ts, torch.Tensor) else torch.as_tensor(ts, dtype=torch.float64)
    if ts.dim() != 1 or ts.numel() == 0:
        raise ValueError(f"ts must be a non-empty 1-D tensor of times, got shape {tuple(ts.shape)}")
    if not bool(torch.isfinite(ts).all()) or bool((ts < 0).any()):
        raise ValueError(f"ts must be finite times >= 0 (fBM starts at B_0 = 0), got {ts.tolist()}")
    if ts.numel() > 1 and not bool((ts[1:] > ts[:-1]).all()):
        raise ValueError(f"ts must be strictly increasing (monotone, no repeats), got {ts.tolist()}; "
                         f"sort it with ts.sort().values and drop repeated times")
    return ts


def exact_fbm_covariance(ts: torch.Tensor, hurst: Hurst, kind: str = "I") -> torch.Tensor:
    """Exact covariance ``Cov(B^H_s, B^H_t)`` of the unit-variance fBM on times ``ts`` (n,).

    * ``kind="I"`` (standard fBM): ``(t^2H + s^2H - |t - s|^2H) / 2``; differentiable in
      ``hurst``.
    * ``kind="II"`` (Riemann--Liouville, scaled to ``Var = t^2H``): for ``s <= t``,
      ``2H int_0^s (t - u)^(H-1/2) (s - u)^(H-1/2) du
      = 2H t^(H-1/2) s^(H+1/2) / (H + 1/2) * 2F1(1/2 - H, 1; H + 3/2; s / t)``
      (Euler's integral after Pfaff's transformation; scipy's ``hyp2f1``, so not
      differentiable: a ``hurst`` that requires grad is refused).

    Returns ``(n, n)`` in ``ts``'s floating dtype (float64 otherwise) and device.
    """
    ts = _times(ts)
    check_choice("kind", kind, KINDS)
    h = _check_hurst(hurst)
    out = dict(dtype=ts.dtype if ts.is_floating_point() else torch.float64, device=ts.device)
    t = ts.to(dtype=torch.float64)
    if kind == "I":
        h = h.to(ts.device)
        tt, ss = t[:, None], t[None, :]
        return (0.5 * (tt ** (2 * h) + ss ** (2 * h) - (tt - ss).abs() ** (2 * h))).to(**out)
    if h.requires_grad:
        raise ValueError("the type II exact covariance uses scipy's hyp2f1 and is not differentiable in hurst; "
                         "pass hurst.detach() (or use kind='I')")
    H, tn = float(h), t.cpu().numpy()
    lo, hi = np.minimum.outer(tn, tn), np.maximum.outer(tn, tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), 0.0)
        cov = 2 * H / (H + 0.5) * hi ** (H - 0.5) * lo ** (H + 0.5) * hyp2f1(0.5 - H, 1.0, H + 1.5, ratio)
    return torch.from_numpy(np.where(lo > 0, cov, 0.0)).to(**out)


def sample_exact_fbm(ts: torch.Tensor, n_paths: int, hurst: Hurst, generator: torch.Generator | None = None,
                     kind: str = "I") -> torch.Tensor:
    """Exact Gaussian samples of the unit-variance fBM (see :func:`exact_fbm_covariance`)
    at times ``ts`` (n,): ``(n_paths, n)``, by a float64 eigen-factor of the covariance
    (exact up to round-off for any grid; ``B_0 = 0`` exactly). Returned in ``ts``'s
    floating dtype (float64 otherwise) on its device; draws use ``generator``."""
    n_paths = check_int("n_paths", n_paths)
    ts = _times(ts)
    h = _check_hurst(hurst).detach()
    cov = exact_fbm_covariance(ts.to(torch.float64), h, kind)
    z = torch.randn(n_paths, ts.numel(), generator=generator, dtype=torch.float64, device=ts.device)
    paths = (z @ _psd_factor(cov).T).masked_fill(ts == 0, 0.0)
    return paths.to(ts.dtype if ts.is_floating_point() else torch.float64)


class FractionalNoiseSDE(torch.nn.Module):
    """An SDE driven by MA-fBM, as an ordinary SDE on an augmented state (Sec. 3.4).

    The wrapped SDE ``dX = b(t, X) dt + sigma(t, X) dB^H`` has diagonal ``sigma``
    (``sde.f``, ``sde.g`` map ``(batch, d)`` to ``(batch, d)``) and one independent
    fBM per dimension. Replacing ``B^H`` by ``B_hat`` (``dB_hat = sum_k omega_k dY_k``,
    the same for both types since ``Y(0)`` is constant) gives the prior::

        dX_i   = [b_i - sigma_i sum_k omega_k gamma_k Y_ik] dt + sigma_i (sum_k omega_k) dW_i
        dY_ik  = -gamma_k Y_ik dt + dW_i

    State ``z = [X, Y.flatten(1)]`` of shape ``(batch, d (K + 1))`` with ``Y`` of shape
    ``(batch, d, K)``; noise ``W`` of shape ``(batch, d)``, so ``noise_type = "general"``
    and ``g`` is ``(batch, d (K + 1), d)``. ``sde_type`` is the wrapped SDE's
    (default ``"stratonovich"``): the equations hold in that calculus.

    The weights are evaluated once, here; rebuild the wrapper after each update of a
    learnable Hurst index. Explicit steppers need ``fbm.check_step(dt)`` to pass (the
    Euler guard ``gamma_max dt < 0.5``). Reversible Heun is unstable on the decaying OU
    modes at any step (its absolute-stability region lies on the imaginary axis;
    Kidger et al. 2021): use Euler, Heun or midpoint.
    """

    noise_type = "general"

    def __init__(self, sde, fbm: MarkovFBM):
        super().__init__()
        for name in ("f", "g"):
            if not callable(getattr(sde, name, None)):
                raise TypeError(f"sde must have f(t, x) and g(t, x) methods; missing {name!r}")
        if getattr(sde, "noise_type", "diagonal") != "diagonal":
            raise ValueError(f"the wrapped sde must have diagonal noise (g(t, x) of shape (batch, d)), got "
                             f"noise_type {sde.noise_type!r}")
        if not isinstance(fbm, MarkovFBM):
            raise TypeError(f"fbm must be a MarkovFBM, got {type(fbm).__name__}")
        self.sde, self.fbm = sde, fbm
        self.sde_type = check_choice("sde_type", getattr(sde, "sde_type", "stratonovich"), ("ito", "stratonovich"))
        self.weights = fbm.weights  # (K,) float64, keeps the graph of a learnable H

    def check_step(self, dt: float) -> None:
        """The solvers call this before stepping: ``gamma_max * dt < 0.5``."""
        self.fbm.check_step(dt)

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(X, Y)`` of shapes ``(batch, d)`` and ``(batch, d, K)`` from ``z`` (batch, d (K + 1))."""
        K = self.fbm.n_processes
        if z.dim() != 2 or z.shape[-1] % (K + 1):
            raise ValueError(f"the augmented state must be (batch, d * (K + 1)) with K = {K}, got shape "
                             f"{tuple(z.shape)}; build it with initial_state(x0)")
        d = z.shape[-1] // (K + 1)
        return z[:, :d], z[:, d:].reshape(z.shape[0], d, K)

    def initial_state(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z0 = [x0, Y(0)]`` for ``x0`` of shape ``(batch, d)``: ``Y(0) = 0`` (type II) or a
        stationary draw of shape ``(batch, d, K)`` (type I), in ``x0``'s dtype and device."""
        if x0.dim() != 2:
            raise ValueError(f"x0 must have shape (batch, d), got {tuple(x0.shape)}")
        shape = (*x0.shape, self.fbm.n_processes)
        if self.fbm.kind == "II":
            y0 = x0.new_zeros(shape)
        else:
            y0 = self.fbm.stationary_sample(shape[:-1], generator, dtype=x0.dtype, device=x0.device)
        return torch.cat([x0, y0.flatten(1)], dim=-1)

    def f(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Drift ``(batch, d (K + 1))``."""
        x, y = self.split(z)
        w, gammas = self.weights.to(z), self.fbm.gammas.to(z)
        drift_x = self.sde.f(t, x) - self.sde.g(t, x) * (y @ (w * gammas))
        return torch.cat([drift_x, (-gammas * y).flatten(1)], dim=-1)

    def g(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Diffusion ``(batch, d (K + 1), d)``: ``diag(sigma sum_k omega_k)`` on top of
        ``K`` rows of ones per dimension (every OU process of dimension ``i`` sees ``W_i``)."""
        x, _ = self.split(z)
        top = torch.diag_embed(self.sde.g(t, x) * self.weights.to(z).sum())
        d, K = x.shape[-1], self.fbm.n_processes
        bottom = torch.eye(d, dtype=z.dtype, device=z.device).repeat_interleave(K, dim=0)
        return torch.cat([top, bottom.expand(x.shape[0], d * K, d)], dim=1)
