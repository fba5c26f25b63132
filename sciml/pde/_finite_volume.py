"""Finite-volume discretisation of 1-D scalar conservation laws with diffusion,

    u_t + F(u)_x = (k(u) u_x)_x,        x in [x0, x0 + length],

on a uniform cell-centred grid of ``n`` cells (``dx = length / n``, centres
``x_i = x0 + (i + 1/2) dx``). The state is the tensor of cell averages, shape
``(..., n)`` (any leading batch axes). The semi-discrete right-hand side is in
conservation form,

    d u_i / dt = -(H_{i+1/2} - H_{i-1/2}) / dx,
    H_{i+1/2} = Fhat(u^-_{i+1/2}, u^+_{i+1/2}) - k_{i+1/2} (u_{i+1} - u_i) / dx,

so ``dx * sum_i u_i`` changes only by the two boundary fluxes
``H_{1/2} - H_{n+1/2}`` (exactly zero in exact arithmetic for periodic grids; to
round-off in floating point). See :meth:`FiniteVolume1D.face_fluxes`.

Pieces (LeVeque, *Finite Volume Methods for Hyperbolic Problems*, CUP 2002):

* numerical fluxes ``Fhat(uL, uR)``: ``"upwind"`` (Murman--Roe: ``F(uL)`` if the
  Roe speed ``(F(uR) - F(uL)) / (uR - uL)`` is ``>= 0`` else ``F(uR)``; the
  classical upwind flux for linear advection, ch. 4.8 / 12.2), ``"rusanov"``
  (local Lax--Friedrichs, ``(F(uL) + F(uR))/2 - max(|F'(uL)|, |F'(uR)|)(uR - uL)/2``,
  ch. 12.5), ``"godunov"`` (exact Riemann flux of a convex flux: ``min`` of ``F``
  over ``[uL, uR]`` if ``uL <= uR`` else ``max`` over ``[uR, uL]``, eq. 12.4);
* reconstruction: ``"constant"`` (first order) or ``"muscl"`` (piecewise linear,
  slopes ``sigma_i = phi(u_i - u_{i-1}, u_{i+1} - u_i)`` with the ``"minmod"`` or
  ``"vanleer"`` limiter, ch. 6.9-6.12; ``u^-_{i+1/2} = u_i + sigma_i / 2``,
  ``u^+_{i+1/2} = u_{i+1} - sigma_{i+1} / 2``), second order away from extrema;
* diffusion with a face coefficient ``k_{i+1/2}`` = ``"arithmetic"``
  ``(k_i + k_{i+1}) / 2`` or ``"harmonic"`` ``2 k_i k_{i+1} / (k_i + k_{i+1})``
  (0 where both vanish). Harmonic is the right mean for a piecewise-constant
  coefficient (series resistances); it vanishes next to any cell with ``k = 0``,
  so degenerate problems such as the porous-medium equation (``k = u^m``) need the
  arithmetic mean or their fronts cannot advance;
* boundary conditions through ghost cells (two per side): ``"periodic"``,
  ``"dirichlet"`` (odd reflection ``u_ghost = 2 g - u_mirror`` so the face value is
  ``g`` to second order; for diffusion), ``"inflow"`` (``u_ghost = g``: the state
  entering through the face; for hyperbolic inflow), ``"outflow"`` (zero gradient,
  ``u_ghost = u_boundary``). Boundary values ``g`` are floats or callables of time.

Time stepping: :func:`integrate` runs the solver core (``sciml.solvers.solve_ode``
at fixed step) with ``ssprk3`` (Shu & Osher 1988, J. Comput. Phys. 77, 439, eq. 2.18,
as a Butcher tableau of the core), ``euler``, ``heun`` (identical to SSP-RK2 of Shu &
Osher, so ``"ssprk2"`` is an alias) or ``rk4``. The step is fixed within each output
interval, from the CFL condition on the state at the interval's start
(:meth:`FiniteVolume1D.stable_dt`), or given.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Union

import torch

from sciml.solvers import solve_ode
from sciml.validation import ArgumentTypeError, check_int, check_real

__all__ = [
    "burgers_flux",
    "ConvexFlux",
    "FiniteVolume1D",
    "FiniteVolume2D",
    "linear_advection_flux",
    "integrate",
    "limit_slopes",
]

BoundaryValue = Union[float, Callable]
NUMERICAL_FLUXES = ("upwind", "rusanov", "godunov")
RECONSTRUCTIONS = ("constant", "muscl")
LIMITERS = ("minmod", "vanleer")
FACE_AVERAGES = ("arithmetic", "harmonic")
BOUNDARIES = ("periodic", "dirichlet", "inflow", "outflow")
# integrate's method names -> the solver core's tableaux
CORE_METHODS = {"ssprk3": "ssprk3", "euler": "euler", "heun": "heun", "ssprk2": "heun", "rk4": "rk4"}
METHODS = tuple(CORE_METHODS)


def _choice(name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")


# ---------------------------------------------------------------- physical fluxes


@dataclass(frozen=True)
class ConvexFlux:
    """A scalar flux ``F(u)`` with derivative ``F'(u)``.

    Attributes:
        flux: ``F``, elementwise on tensors.
        speed: ``F'``, elementwise on tensors.
        sonic: the minimiser ``u*`` of a convex ``F`` (``F'(u*) = 0``), used by the
            Godunov flux; ``None`` for a monotone flux (linear advection), where the
            extrema over an interval lie at its ends.
    """

    flux: Callable[[torch.Tensor], torch.Tensor]
    speed: Callable[[torch.Tensor], torch.Tensor]
    sonic: float | None = None


def linear_advection_flux(a: float) -> ConvexFlux:
    """``F(u) = a u``: the advection equation ``u_t + a u_x = 0``."""
    a = float(a)
    return ConvexFlux(lambda u: a * u, lambda u: torch.full_like(u, a), None)


def burgers_flux() -> ConvexFlux:
    """``F(u) = u^2 / 2``: the inviscid Burgers equation (convex, sonic point 0)."""
    return ConvexFlux(lambda u: 0.5 * u * u, lambda u: u, 0.0)


# ---------------------------------------------------------------- building blocks


def limit_slopes(backward: torch.Tensor, forward: torch.Tensor, limiter: str) -> torch.Tensor:
    """Limited slope (times ``dx``) from the one-sided differences ``u_i - u_{i-1}``
    and ``u_{i+1} - u_i``:

    * minmod: ``minmod(a, b) = sign(a) min(|a|, |b|)`` if ``ab > 0`` else 0;
    * vanleer: ``2 a b / (a + b)`` if ``ab > 0`` else 0 (harmonic mean; van Leer 1974).

    Both are TVD (Sweby 1984) and zero at extrema, which clips smooth extrema to
    first order there.
    """
    _choice("limiter", limiter, LIMITERS)
    same = backward * forward > 0
    if limiter == "minmod":
        slope = torch.where(backward.abs() < forward.abs(), backward, forward)
    else:
        denom = torch.where(same, backward + forward, torch.ones_like(backward))
        slope = 2 * backward * forward / denom
    return torch.where(same, slope, torch.zeros_like(slope))


# ---------------------------------------------------------------- the scheme


@dataclass(frozen=True, eq=False, kw_only=True)
class SchemeOptions:
    """The keyword options :class:`FiniteVolume1D` and :class:`FiniteVolume2D` share
    (keyword-only in both): ``numerical_flux``, ``reconstruction``, ``limiter``,
    ``diffusivity`` and ``face_average``, documented with :class:`FiniteVolume1D`."""

    numerical_flux: str = "rusanov"
    reconstruction: str = "constant"
    limiter: str = "minmod"
    diffusivity: float | Callable | None = None
    face_average: str = "arithmetic"

    def options(self) -> dict:
        """The shared options as keywords."""
        return {f.name: getattr(self, f.name) for f in fields(SchemeOptions)}


@dataclass(frozen=True, eq=False)
class FiniteVolume1D(SchemeOptions):
    """Semi-discrete finite-volume scheme for ``u_t + F(u)_x = (k(u) u_x)_x`` on
    ``n`` uniform cells of ``[x0, x0 + length]`` (see the module docstring).

    Attributes:
        n: number of cells (``>= 2``).
        length: domain length (``> 0``); ``dx = length / n``.
        x0: left end of the domain.
        flux: the physical flux (:class:`ConvexFlux`), or ``None`` for pure diffusion.
        numerical_flux: ``"upwind"``, ``"rusanov"`` or ``"godunov"``.
        reconstruction: ``"constant"`` or ``"muscl"``.
        limiter: ``"minmod"`` or ``"vanleer"`` (MUSCL only).
        diffusivity: ``None`` (no diffusion), a float ``k >= 0`` or a callable
            ``k(u)`` (elementwise, non-negative).
        face_average: ``"arithmetic"`` or ``"harmonic"`` face value of ``k``.
        bc: ``"periodic"``, or a pair ``(left, right)`` of ``"dirichlet"``,
            ``"inflow"``, ``"outflow"``.
        left, right: boundary values ``g`` (floats or callables ``g(t)``) for
            ``"dirichlet"`` and ``"inflow"``.
    """

    n: int
    length: float = 1.0
    x0: float = 0.0
    flux: ConvexFlux | None = None
    bc: str | tuple = "periodic"
    left: BoundaryValue | None = None
    right: BoundaryValue | None = None

    def __post_init__(self):
        check_int("n", self.n, minimum=2, hint="n is the number of cells")
        check_real("length", self.length, positive=True)
        if self.flux is not None and not isinstance(self.flux, ConvexFlux):
            raise TypeError(f"flux must be a ConvexFlux (e.g. burgers_flux() or linear_advection_flux(a)) or None, "
                            f"got {type(self.flux).__name__}")
        if self.flux is None and self.diffusivity is None:
            raise ValueError("give a flux, a diffusivity or both; the equation u_t = 0 has nothing to discretise")
        _choice("numerical_flux", self.numerical_flux, NUMERICAL_FLUXES)
        _choice("reconstruction", self.reconstruction, RECONSTRUCTIONS)
        _choice("limiter", self.limiter, LIMITERS)
        _choice("face_average", self.face_average, FACE_AVERAGES)
        if isinstance(self.diffusivity, (int, float)) and not self.diffusivity >= 0:
            raise ValueError(f"diffusivity must be >= 0, got {self.diffusivity!r}")
        if self.bc != "periodic":
            if not (isinstance(self.bc, tuple) and len(self.bc) == 2):
                raise ValueError(f"bc must be 'periodic' or a pair (left, right) of 'dirichlet', 'inflow', "
                                 f"'outflow', got {self.bc!r}")
            for side, kind, value in (("left", self.bc[0], self.left), ("right", self.bc[1], self.right)):
                _choice(f"bc[{side}]", kind, BOUNDARIES[1:])
                if kind in ("dirichlet", "inflow") and value is None:
                    raise ValueError(f"bc {side} is {kind!r} but no boundary value was given; pass {side}=g "
                                     f"(a float or a callable of t)")

    @property
    def dx(self) -> float:
        return self.length / self.n

    def centers(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """Cell centres ``x0 + (i + 1/2) dx``, shape ``(n,)``."""
        return self.x0 + (torch.arange(self.n, dtype=dtype, device=device) + 0.5) * self.dx

    def edges(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """Cell faces ``x0 + i dx``, shape ``(n + 1,)``."""
        return self.x0 + torch.arange(self.n + 1, dtype=dtype, device=device) * self.dx

    def cell_averages(self, antiderivative: Callable, dtype=torch.float64, device=None) -> torch.Tensor:
        """Exact cell averages ``(P(x_{i+1/2}) - P(x_{i-1/2})) / dx`` of a function
        with antiderivative ``P`` (vectorised on a tensor), shape ``(n,)``."""
        p = antiderivative(self.edges(dtype, device))
        return (p[1:] - p[:-1]) / self.dx

    # ------------------------------------------------------------ ghost cells

    def _value(self, g, t, like: torch.Tensor) -> torch.Tensor:
        v = g(t) if callable(g) else g
        return torch.as_tensor(v, dtype=like.dtype, device=like.device).expand_as(like)

    def pad(self, u: torch.Tensor, t: float = 0.0, ghosts: int = 2) -> torch.Tensor:
        """``u`` with ``ghosts`` ghost cells on each side of the last axis, shape
        ``(..., n + 2 ghosts)``, filled from the boundary conditions at time ``t``."""
        if self.bc == "periodic":
            return torch.cat([u[..., -ghosts:], u, u[..., :ghosts]], dim=-1)
        parts = []
        for side in (0, 1):
            kind, g = self.bc[side], (self.left, self.right)[side]
            # interior cells mirrored by the ghosts, ordered outward from the face
            inner = u[..., :ghosts] if side == 0 else u[..., -ghosts:].flip(-1)
            if kind == "outflow":
                ghost = inner[..., :1].expand_as(inner)
            elif kind == "inflow":
                ghost = self._value(g, t, inner)
            else:
                ghost = 2 * self._value(g, t, inner) - inner
            parts.append(ghost.flip(-1) if side == 0 else ghost)
        return torch.cat([parts[0], u, parts[1]], dim=-1)

    # ------------------------------------------------------------ fluxes

    def _riemann(self, ul: torch.Tensor, ur: torch.Tensor) -> torch.Tensor:
        F, name = self.flux, self.numerical_flux
        fl, fr = F.flux(ul), F.flux(ur)
        if name == "rusanov":
            a = torch.maximum(F.speed(ul).abs(), F.speed(ur).abs())
            return 0.5 * (fl + fr) - 0.5 * a * (ur - ul)
        if name == "upwind":
            du = ur - ul
            close = du.abs() <= 1e-300
            roe = torch.where(close, F.speed(0.5 * (ul + ur)), (fr - fl) / torch.where(close, torch.ones_like(du), du))
            return torch.where(roe >= 0, fl, fr)
        # Godunov: min over [uL, uR] if uL <= uR, else max over [uR, uL] (convex F)
        if F.sonic is None:
            fmin, fmax = torch.minimum(fl, fr), torch.maximum(fl, fr)
        else:
            lo, hi = torch.minimum(ul, ur), torch.maximum(ul, ur)
            us = torch.minimum(torch.maximum(torch.full_like(ul, F.sonic), lo), hi)  # argmin of F on [lo, hi]
            fmin, fmax = F.flux(us), torch.maximum(fl, fr)
        return torch.where(ul <= ur, fmin, fmax)

    def face_fluxes(self, u: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """Total numerical flux ``H_{i-1/2}`` at the ``n + 1`` faces (advective minus
        diffusive), shape ``(..., n + 1)``. ``H[..., 0]`` enters through the left
        boundary and ``H[..., -1]`` leaves through the right one."""
        if u.shape[-1] != self.n:
            raise ValueError(f"u must have the {self.n} cells on its last axis, got shape {tuple(u.shape)}")
        up = self.pad(u, t, 2)  # cells -2 .. n+1
        total = torch.zeros(u.shape[:-1] + (self.n + 1,), dtype=u.dtype, device=u.device)
        if self.flux is not None:
            if self.reconstruction == "constant":
                ul, ur = up[..., 1:-2], up[..., 2:-1]
            else:
                d = up[..., 1:] - up[..., :-1]  # d[j] = up[j+1] - up[j]
                sigma = limit_slopes(d[..., :-1], d[..., 1:], self.limiter)  # cells -1 .. n
                cells = up[..., 1:-1]
                ul = (cells + 0.5 * sigma)[..., :-1]  # left state at faces -1/2 .. n-1/2
                ur = (cells - 0.5 * sigma)[..., 1:]
            total = total + self._riemann(ul, ur)
        if self.diffusivity is not None:
            k = self.diffusivity
            a, b = up[..., 1:-2], up[..., 2:-1]
            if callable(k):
                ka, kb = k(a), k(b)
                if self.face_average == "arithmetic":
                    kf = 0.5 * (ka + kb)
                else:
                    s = ka + kb
                    safe = torch.where(s > 0, s, torch.ones_like(s))
                    kf = torch.where(s > 0, 2 * ka * kb / safe, torch.zeros_like(s))
            else:
                kf = float(k)
            total = total - kf * (b - a) / self.dx
        return total

    def rhs(self, u: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """Semi-discrete right-hand side ``-(H_{i+1/2} - H_{i-1/2}) / dx``, shaped like ``u``."""
        h = self.face_fluxes(u, t)
        return (h[..., :-1] - h[..., 1:]) / self.dx

    def mass(self, u: torch.Tensor) -> torch.Tensor:
        """``dx * sum_i u_i`` over the last axis."""
        return u.sum(-1) * self.dx

    # ------------------------------------------------------------ time step

    def stable_dt(self, u: torch.Tensor, cfl: float = 0.5, t: float = 0.0) -> float:
        """Largest step with ``dt (max|F'(u)| / dx + 2 max k(u) / dx^2) <= cfl`` (the
        explicit Euler bound; the SSP schemes inherit it with SSP coefficient 1),
        from the state ``u`` and its ghost cells at time ``t``."""
        check_real("cfl", cfl, positive=True)
        up = self.pad(u.detach(), t, 2)
        rate = 0.0
        if self.flux is not None:
            rate += float(self.flux.speed(up).abs().max()) / self.dx
        if self.diffusivity is not None:
            k = self.diffusivity
            kmax = float(k(up).abs().max()) if callable(k) else float(k)
            rate += 2 * kmax / self.dx ** 2
        if rate == 0.0:
            raise ValueError("the state has zero wave speed and diffusivity, so the CFL step is unbounded; pass dt")
        return cfl / rate


@dataclass(frozen=True, eq=False)
class FiniteVolume2D(SchemeOptions):
    """Dimension-by-dimension finite-volume scheme on a periodic ``nx x ny`` grid of
    ``[x0, x0 + lx] x [y0, y0 + ly]``,

        u_t + F(u)_x + G(u)_y = (k(u) u_x)_x + (k(u) u_y)_y,

    state of shape ``(..., nx, ny)`` (``x`` on axis -2, ``y`` on axis -1)::

        du_ij/dt = -(H_{i+1/2,j} - H_{i-1/2,j}) / dx - (K_{i,j+1/2} - K_{i,j-1/2}) / dy

    with the 1-D face fluxes of :class:`FiniteVolume1D` along each axis (same
    numerical flux, reconstruction, limiter and face average of ``k`` in both
    directions). Second order at most (no transverse corrections; LeVeque 2002,
    ch. 19.5). Mass ``dx dy sum u`` is conserved to round-off.

    Attributes:
        nx, ny: cells per direction (``>= 2``).
        lx, ly, x0, y0: the domain.
        flux_x, flux_y: :class:`ConvexFlux` in ``x`` and ``y`` (``None`` for none).
        numerical_flux, reconstruction, limiter, diffusivity, face_average: as for
            :class:`FiniteVolume1D`.
    """

    nx: int
    ny: int
    lx: float = 1.0
    ly: float = 1.0
    x0: float = 0.0
    y0: float = 0.0
    flux_x: ConvexFlux | None = None
    flux_y: ConvexFlux | None = None

    def __post_init__(self):
        for name in ("nx", "ny"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=2,
                                                     hint=f"{name} is the number of cells in that direction"))
        for name in ("lx", "ly"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), positive=True,
                                                      hint=f"{name} is the domain's length in that direction"))
        for name in ("x0", "y0"):
            object.__setattr__(self, name, check_real(name, getattr(self, name)))
        for name in ("flux_x", "flux_y"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ConvexFlux):
                raise ArgumentTypeError(f"{name} must be a ConvexFlux (e.g. burgers_flux() or "
                                        f"linear_advection_flux(a)) or None, got {type(value).__name__}")
        if self.flux_x is None and self.flux_y is None and self.diffusivity is None:
            raise ValueError("give flux_x, flux_y, a diffusivity or a combination; u_t = 0 has nothing to discretise")
        common = self.options()
        parts = []
        axes = ((self.nx, self.lx, self.x0, self.flux_x), (self.ny, self.ly, self.y0, self.flux_y))
        for n, length, start, flux in axes:
            parts.append(None if flux is None and self.diffusivity is None
                         else FiniteVolume1D(n, length, start, flux=flux, **common))
        object.__setattr__(self, "_axes", tuple(parts))

    @property
    def dx(self) -> float:
        return self.lx / self.nx

    @property
    def dy(self) -> float:
        return self.ly / self.ny

    def centers(self, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell-centre coordinates ``(X, Y)``, each of shape ``(nx, ny)`` (``ij`` indexing)."""
        x = self.x0 + (torch.arange(self.nx, dtype=dtype, device=device) + 0.5) * self.dx
        y = self.y0 + (torch.arange(self.ny, dtype=dtype, device=device) + 0.5) * self.dy
        return torch.meshgrid(x, y, indexing="ij")

    def rhs(self, u: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """Semi-discrete right-hand side, shaped like ``u`` (``(..., nx, ny)``)."""
        if u.dim() < 2 or tuple(u.shape[-2:]) != (self.nx, self.ny):
            raise ValueError(f"u must end in the grid shape ({self.nx}, {self.ny}), got {tuple(u.shape)}")
        fx, fy = self._axes
        out = torch.zeros_like(u)
        if fx is not None:
            out = out + fx.rhs(u.transpose(-1, -2), t).transpose(-1, -2)
        if fy is not None:
            out = out + fy.rhs(u, t)
        return out

    def mass(self, u: torch.Tensor) -> torch.Tensor:
        """``dx dy sum_ij u_ij`` over the last two axes."""
        return u.sum((-2, -1)) * (self.dx * self.dy)

    def stable_dt(self, u: torch.Tensor, cfl: float = 0.5, t: float = 0.0) -> float:
        """Largest step with ``dt (max|F'|/dx + max|G'|/dy + 2 max k (1/dx^2 + 1/dy^2)) <= cfl``."""
        rate = 0.0
        fx, fy = self._axes
        for part, v in ((fx, u.transpose(-1, -2)), (fy, u)):
            if part is not None:
                rate += cfl / part.stable_dt(v, cfl, t)
        return cfl / rate


def integrate(
    scheme: FiniteVolume1D | FiniteVolume2D,
    u0: torch.Tensor,
    t,
    *,
    method: str = "ssprk3",
    cfl: float = 0.4,
    dt: float | None = None,
) -> torch.Tensor:
    """Integrate the semi-discrete system from ``u0`` (at ``t[0]``) and return the
    cell averages at every output time, shape ``(T, *u0.shape)``.

    Args:
        scheme: the spatial discretisation.
        u0: initial cell averages, shape ``(..., n)`` (1-D) or ``(..., nx, ny)`` (2-D).
        t: increasing output times (1-D tensor or sequence).
        method: ``"ssprk3"``, ``"euler"``, ``"ssprk2"`` / ``"heun"`` or ``"rk4"``, run by
            ``sciml.solvers.solve_ode`` at fixed step.
        cfl: Courant number. Without ``dt``, the step of each output interval is
            ``scheme.stable_dt(u, cfl, t)`` from the state at the interval's start
            and fixed within it. That is safe when the scheme obeys a maximum
            principle (monotone / TVD schemes for scalar laws with constant boundary
            data); where wave speeds or diffusivities can grow (time-dependent
            boundary data, sources) pass more output times or an explicit ``dt``.
        dt: explicit maximum step, overriding ``cfl``. Each output interval is split
            into equal steps no longer than ``dt``.

    Returns:
        Tensor of shape ``(T, *u0.shape)``; ``[0]`` is ``u0``.
    """
    if not isinstance(scheme, (FiniteVolume1D, FiniteVolume2D)):
        raise ArgumentTypeError(f"scheme must be a FiniteVolume1D or FiniteVolume2D, got {type(scheme).__name__}")
    _choice("method", method, METHODS)
    if not isinstance(u0, torch.Tensor) or not u0.is_floating_point():
        raise TypeError("u0 must be a floating-point tensor of cell averages")
    if not bool(torch.isfinite(u0).all()):
        raise ValueError("u0 contains NaN or Inf; every output state would be NaN. Pass finite initial cell averages")
    times = [float(s) for s in (t.tolist() if isinstance(t, torch.Tensor) else t)]
    if len(times) < 2 or any(b <= a for a, b in zip(times[:-1], times[1:])):
        raise ValueError(f"t must hold at least two strictly increasing times, got {times}")
    dt = check_real("dt", dt, positive=True, allow_none=True)
    core = CORE_METHODS[method]

    def rhs(s, y):
        return scheme.rhs(y, s)

    if dt is not None:
        ts = torch.tensor(times, dtype=u0.dtype, device=u0.device)
        return solve_ode(rhs, u0, ts, method=core, dt=dt, adaptive=False).ys
    out, u = [u0], u0
    for a, b in zip(times[:-1], times[1:]):
        ts = torch.tensor([a, b], dtype=u0.dtype, device=u0.device)
        u = solve_ode(rhs, u, ts, method=core, dt=scheme.stable_dt(u, cfl, a), adaptive=False).ys[-1]
        out.append(u)
    return torch.stack(out)
