"""Implicit--explicit (IMEX) time steppers for semi-discrete PDEs

    du/dt = L u + N(u),

where ``L`` is diagonal (e.g. a Fourier-space linear operator: diffusion ``-nu k^2``,
dispersion ``i k^3``) and is treated implicitly by Crank--Nicolson, and ``N`` (the
non-linear, non-stiff part) explicitly by a Runge--Kutta method. Because ``L`` is
diagonal, every implicit solve ``(1 - mu L) x = r`` is the division ``x = r / (1 - mu L)``.

The state ``u`` (typically the spectral coefficients ``u_hat``, real or complex, any
shape, e.g. ``(batch, n)`` or ``(batch, nx, ny // 2 + 1)``) must broadcast with
``linear`` (the eigenvalues of ``L``).

Schemes:

* :func:`crank_nicolson_rk2` -- CN for ``L``, Heun for ``N`` (the scheme of
  jax-cfd's ``crank_nicolson_rk2``; Chandler & Kerswell, J. Fluid Mech. 722 (2013),
  554-595, Section 3)::

      g   = u_n + dt/2 L u_n
      u*  = (g + dt N(u_n)) / (1 - dt/2 L)
      u_{n+1} = (g + dt/2 (N(u_n) + N(u*))) / (1 - dt/2 L)

  Second order. With ``N = 0`` one step multiplies each mode by the CN factor
  ``(1 + z/2) / (1 - z/2)``, ``z = dt L``.

* :func:`crank_nicolson_rk3`, :func:`crank_nicolson_rk4` -- the low-storage
  CN--RK schemes of Canuto, Hussaini, Quarteroni & Zang, *Spectral Methods:
  Evolution to Complex Geometries* (Springer 2007), Appendix D.3, with the
  Williamson (3-stage) and Carpenter--Kennedy (5-stage, 2N-storage, 4th order;
  NASA TM-109112, 1994) coefficients ``alpha, beta, gamma`` (values as in jax-cfd
  ``spectral/time_stepping.py``)::

      h = 0
      for k in stages:
          h   = N(u) + beta_k h
          mu  = dt/2 (alpha_{k+1} - alpha_k)
          u   = (u + gamma_k dt h + mu L u) / (1 - mu L)

  The explicit part alone (``L = 0``) has the order of its RK method (3 or 4); the
  implicit part is a sequence of CN sub-steps of lengths ``(alpha_{k+1} - alpha_k) dt``,
  so with ``N = 0`` one step multiplies by ``prod_k (1 + mu_k L) / (1 - mu_k L)``, and
  the coupled scheme is second order (the CN sub-steps are not synchronised with
  the RK stages beyond second order). A-stable in ``L``: ``|factor| <= 1`` for
  ``Re L <= 0``, tending to ``(-1)^stages`` (no damping, not L-stable) as
  ``dt L -> -inf``.

These fixed, diagonal-implicit schemes have no counterpart in the explicit solver
core (``sciml.solvers``), so they are written out here.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from sciml.validation import ArgumentTypeError, check_callable, check_real

__all__ = [
    "CrankNicolsonRK2",
    "LowStorageCNRK",
    "crank_nicolson_rk2",
    "crank_nicolson_rk3",
    "crank_nicolson_rk4",
]

WILLIAMSON_RK3 = dict(
    alphas=(0.0, 1 / 3, 3 / 4, 1.0),
    betas=(0.0, -5 / 9, -153 / 128),
    gammas=(1 / 3, 15 / 16, 8 / 15),
)
CARPENTER_KENNEDY_RK4 = dict(
    alphas=(0.0, 0.1496590219993, 0.3704009573644, 0.6222557631345, 0.9582821306748, 1.0),
    betas=(0.0, -0.4178904745, -1.192151694643, -1.697784692471, -1.514183444257),
    gammas=(0.1496590219993, 0.3792103129999, 0.8229550293869, 0.6994504559488, 0.1530572479681),
)


def _check(linear, nonlinear, dt) -> torch.Tensor:
    if isinstance(linear, str) or not isinstance(linear, (torch.Tensor, Sequence, numbers.Number)) \
            and not hasattr(linear, "__array__"):
        raise ArgumentTypeError(f"linear must be a tensor of the eigenvalues of L (e.g. -k**2), got "
                                f"{type(linear).__name__}")
    if not isinstance(linear, torch.Tensor):
        linear = torch.as_tensor(linear)
    if not (linear.is_floating_point() or linear.is_complex()):
        raise TypeError(f"linear must be a floating or complex tensor of eigenvalues, got dtype {linear.dtype}; "
                        f"convert it with .double()")
    if not bool(torch.isfinite(linear).all()):
        raise ValueError("linear (the eigenvalues of L) contains NaN or Inf; every step would return NaN states")
    check_callable("nonlinear", nonlinear, "nonlinear(u) -> du/dt")
    check_real("dt", dt, positive=True)
    return linear


@dataclass(frozen=True, eq=False)
class _IMEXBase:
    linear: torch.Tensor
    nonlinear: Callable[[torch.Tensor], torch.Tensor]
    dt: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "linear", _check(self.linear, self.nonlinear, self.dt))

    def _factors(self, mu: float, like: torch.Tensor):
        """``(1 + mu L, 1 / (1 - mu L))`` on ``like``'s device, cached per (mu, device, dtype)."""
        key = (mu, like.device, like.dtype)
        if key not in self._cache:
            lin = self.linear.to(like.device)
            if like.is_complex() or lin.is_complex():
                lin = lin.to(torch.promote_types(lin.dtype, like.dtype))
            else:
                lin = lin.to(like.dtype)
            denom = 1 - mu * lin
            if bool((denom == 0).any()):
                raise ValueError(f"1 - {mu} * linear vanishes for some modes, so the implicit solve is singular; "
                                 f"change dt or remove the eigenvalue 1/{mu}")
            self._cache[key] = (1 + mu * lin, 1 / denom, lin)
        return self._cache[key]

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        if not isinstance(u, torch.Tensor):
            raise ArgumentTypeError(f"the state u must be a tensor, got {type(u).__name__}")
        try:
            fits = torch.broadcast_shapes(self.linear.shape, u.shape) == u.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"the state's shape {tuple(u.shape)} does not match linear (the eigenvalues of L), "
                             f"shape {tuple(self.linear.shape)}: linear must broadcast to the state's shape "
                             f"(one eigenvalue per mode in the trailing axes)")
        return self.step(u)

    def amplification(self, z: torch.Tensor) -> torch.Tensor:
        """The factor one step applies to a mode with ``dt L = z`` when ``N = 0``."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class CrankNicolsonRK2(_IMEXBase):
    """Crank--Nicolson (``L``) / Heun (``N``) IMEX step; see the module docstring.

    Attributes:
        linear: eigenvalues of ``L``, broadcastable to the state.
        nonlinear: ``N(u) -> du/dt``, shaped like ``u``.
        dt: the step.
    """

    def step(self, u: torch.Tensor) -> torch.Tensor:
        """One step ``u_n -> u_{n+1}``."""
        half = 0.5 * self.dt
        plus, inv, _ = self._factors(half, u)
        g = plus * u
        n0 = self.nonlinear(u)
        u1 = (g + self.dt * n0) * inv
        return (g + half * (n0 + self.nonlinear(u1))) * inv

    def amplification(self, z: torch.Tensor) -> torch.Tensor:
        return (1 + z / 2) / (1 - z / 2)


@dataclass(frozen=True, eq=False)
class LowStorageCNRK(_IMEXBase):
    """Low-storage Crank--Nicolson / Runge--Kutta IMEX step (Canuto et al. 2007,
    App. D.3); see the module docstring.

    Attributes:
        linear, nonlinear, dt: as for :class:`CrankNicolsonRK2`.
        alphas: stage times, ``len(betas) + 1`` values from 0 to 1.
        betas, gammas: the 2N-storage RK coefficients (``betas[0] = 0``).
    """

    alphas: Sequence[float] = CARPENTER_KENNEDY_RK4["alphas"]
    betas: Sequence[float] = CARPENTER_KENNEDY_RK4["betas"]
    gammas: Sequence[float] = CARPENTER_KENNEDY_RK4["gammas"]

    def __post_init__(self):
        super().__post_init__()
        s = len(self.betas)
        if len(self.alphas) != s + 1 or len(self.gammas) != s:
            raise ValueError(f"need len(alphas) = len(betas) + 1 = len(gammas) + 1, got "
                             f"{len(self.alphas)}, {len(self.betas)}, {len(self.gammas)}")
        if self.alphas[0] != 0 or abs(self.alphas[-1] - 1) > 1e-12:
            raise ValueError(f"alphas must run from 0 to 1 (stage times in units of dt), got {list(self.alphas)}")

    def step(self, u: torch.Tensor) -> torch.Tensor:
        """One step ``u_n -> u_{n+1}``."""
        h = None
        for k in range(len(self.betas)):
            nk = self.nonlinear(u)
            h = nk if h is None else nk + self.betas[k] * h
            mu = 0.5 * self.dt * (self.alphas[k + 1] - self.alphas[k])
            plus, inv, _ = self._factors(mu, u)
            u = (plus * u + (self.gammas[k] * self.dt) * h) * inv
        return u

    def amplification(self, z: torch.Tensor) -> torch.Tensor:
        out = torch.ones_like(z)
        for a0, a1 in zip(self.alphas[:-1], self.alphas[1:]):
            w = 0.5 * (a1 - a0) * z
            out = out * (1 + w) / (1 - w)
        return out


def crank_nicolson_rk2(linear, nonlinear, dt: float) -> CrankNicolsonRK2:
    """CN / Heun IMEX stepper (second order)."""
    return CrankNicolsonRK2(linear, nonlinear, dt)


def crank_nicolson_rk3(linear, nonlinear, dt: float) -> LowStorageCNRK:
    """Low-storage CN / Williamson RK3 stepper (3 stages; second order when coupled)."""
    return LowStorageCNRK(linear, nonlinear, dt, **WILLIAMSON_RK3)


def crank_nicolson_rk4(linear, nonlinear, dt: float) -> LowStorageCNRK:
    """Low-storage CN / Carpenter--Kennedy RK4 stepper (5 stages; fourth order in
    ``N`` alone, second order when coupled to ``L``)."""
    return LowStorageCNRK(linear, nonlinear, dt, **CARPENTER_KENNEDY_RK4)
