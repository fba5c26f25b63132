"""Two-dimensional incompressible Navier–Stokes on the unit torus, vorticity form:

    w_t + u . grad w = nu Delta w + f,     u = (d_y psi, -d_x psi),     -Delta psi = w,

on ``[0, 1)^2`` with periodic boundaries (``w`` has zero mean; so has ``f``).

Discretisation: Fourier pseudo-spectral on an ``s x s`` grid, float64 throughout.
The state is ``w_hat`` (real-FFT layout). The advection term ``u . grad w`` is
formed in physical space from ``u``, ``v``, ``w_x``, ``w_y`` (four inverse FFTs) and
its transform is multiplied by Orszag's 2/3 mask (modes with ``|m_x|, |m_y| <= s/3``
kept), which removes the quadratic aliasing. Time stepping is implicit–explicit:
the viscous term by Crank–Nicolson, advection and forcing explicitly, with Heun
(``stepper="cnrk2"``, the scheme of the FNO / Spectral-Refiner data generators and
jax-cfd) or the low-storage Carpenter–Kennedy RK4 (``"cnrk4"``), both from
:mod:`sciml.pde`; both are second order overall, and exact-in-shape for single
Laplacian eigenmodes, where the advection term vanishes.

Settings of the literature (reproduce them with the constructor arguments):

* FNO (Li et al., ICLR 2021, Sec. 5.3): ``nu`` in {1e-3, 1e-4, 1e-5}, forcing
  ``f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``, initial vorticity from the GRF
  ``N(0, 7^3 (-Delta + 49 I)^(-2.5))`` (``alpha = 2.5``, ``tau = 7``), solved at 256^2 and
  subsampled to 64^2, snapshots every time unit to ``T = 50`` (1e-3), 30 (1e-4), 20
  (1e-5): ``NavierStokes(resolution=64, solver_resolution=256, viscosity=1e-3,
  t_end=50, n_times=51, dt=1e-4)``.
* Spectral-Refiner (Cao et al., ICLR 2025): the same forcing and ``nu = 1e-3``, 256^2,
  ``dt = 1e-3``, a warm-up to ``t = 30`` and 100 snapshots on ``[30, 50]``:
  ``warmup=30, t_end=20, n_times=101``. The residual ``R(w)`` of its estimator is
  :meth:`NavierStokes.residual`.
* Decaying (unforced) turbulence: ``forcing=None``.

The defaults (64^2, ``nu = 1e-3``, ten time units, 11 snapshots, ``dt = 1e-3``) are a
quick FNO-like set.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.pde import (SolverStepper, SpectralGrid, crank_nicolson_rk2, crank_nicolson_rk4, gaussian_random_field,
                       rollout, time_derivative)
from sciml.problems import Problem
from sciml.validation import ArgumentTypeError, check_choice, check_int, check_real

__all__ = ["NavierStokes", "fno_forcing"]

_STEPPERS = {"cnrk2": crank_nicolson_rk2, "cnrk4": crank_nicolson_rk4}


def fno_forcing(s: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """``0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))`` on the ``s x s`` grid ``x_i = i / s``."""
    x, y = SpectralGrid((s, s)).coordinates(dtype, device)
    return 0.1 * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))


class NavierStokes(Problem):
    """Args:
        resolution: output grid side ``s``.
        viscosity: ``nu >= 0`` (0: the Euler equations, de-aliased).
        forcing: ``"fno"``, ``None`` (decaying) or a tensor of shape ``(s_solver, s_solver)``.
        t_end: length of the recorded window (after ``warmup``).
        n_times: snapshots on ``[warmup, warmup + t_end]``, both ends included.
        dt: time step (rounded down so that snapshots fall on steps).
        warmup: time integrated before the first snapshot.
        solver_resolution: grid of the solver (a multiple of ``resolution``); outputs
            are subsampled from it. Default: ``resolution``.
        stepper: ``"cnrk2"`` or ``"cnrk4"``.
        alpha, tau: the initial-vorticity field ``N(0, tau^(2 alpha - 2) (-Delta + tau^2)^(-alpha))``.
    """

    name = "navier_stokes"

    def __init__(self, resolution: int = 64, viscosity: float = 1e-3, forcing="fno", t_end: float = 10.0,
                 n_times: int = 11, dt: float = 1e-3, warmup: float = 0.0, solver_resolution: int | None = None,
                 stepper: str = "cnrk2", alpha: float = 2.5, tau: float = 7.0):
        resolution = check_int("resolution", resolution, minimum=4)
        solver_resolution = resolution if solver_resolution is None else \
            check_int("solver_resolution", solver_resolution, minimum=4)
        if solver_resolution % resolution:
            raise ValueError(f"solver_resolution ({solver_resolution}) must be a multiple of resolution "
                             f"({resolution}): outputs are subsampled by striding")
        self.resolution, self.solver_resolution = resolution, solver_resolution
        self.n_times = n_times = check_int("n_times", n_times, minimum=2)
        self.viscosity = check_real("viscosity", viscosity, nonnegative=True)
        self.t_end = check_real("t_end", t_end, positive=True)
        self.warmup = check_real("warmup", warmup, nonnegative=True)
        dt = check_real("dt", dt, positive=True)
        self.stepper = check_choice("stepper", stepper, tuple(_STEPPERS))
        self.alpha, self.tau = check_real("alpha", alpha, positive=True), check_real("tau", tau, positive=True)
        self.steps_per_output = math.ceil(self.t_end / (n_times - 1) / dt - 1e-9)
        self.dt = self.t_end / (n_times - 1) / self.steps_per_output
        self.warmup_steps = math.ceil(self.warmup / self.dt - 1e-9)
        if self.warmup_steps and abs(self.warmup_steps * self.dt - self.warmup) > 1e-9 * max(1.0, self.warmup):
            raise ValueError(f"warmup ({warmup}) must be a multiple of the step {self.dt}")
        self.spectral = SpectralGrid((solver_resolution, solver_resolution))
        if isinstance(forcing, str):
            if forcing != "fno":
                raise ValueError(f"unknown forcing {forcing!r}; use 'fno', None or a tensor")
            self.forcing_name, self.forcing = "fno", fno_forcing(solver_resolution)
        elif forcing is None:
            self.forcing_name, self.forcing = "none", None
        else:
            forcing = torch.as_tensor(forcing, dtype=torch.float64)
            if forcing.shape != (solver_resolution, solver_resolution):
                raise ValueError(f"a forcing tensor must have shape ({solver_resolution}, {solver_resolution}), "
                                 f"got {tuple(forcing.shape)}")
            self.forcing_name, self.forcing = "custom", forcing

    # ------------------------------------------------------------------ contract
    def parameters(self) -> dict:
        return {"resolution": self.resolution, "solver_resolution": self.solver_resolution,
                "viscosity": self.viscosity, "forcing": self.forcing_name, "t_end": self.t_end,
                "n_times": self.n_times, "dt": self.dt, "warmup": self.warmup, "stepper": self.stepper,
                "alpha": self.alpha, "tau": self.tau}

    def grid(self) -> dict:
        x = np.arange(self.resolution) / self.resolution
        return {"x": x, "y": x, "t": self.warmup + np.linspace(0.0, self.t_end, self.n_times)}

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Initial vorticities ``(n, s_solver, s_solver)`` float32 (zero mean)."""
        s = self.solver_resolution
        return gaussian_random_field(n, (s, s), self.alpha, self.tau, sigma=self.tau ** (self.alpha - 1),
                                     zero_mean=True, generator=generator)

    def solve(self, inputs: torch.Tensor) -> torch.Tensor:
        """Vorticity at the snapshot times, ``(n, n_times, s, s)`` in the input dtype."""
        w0 = self._check(inputs)
        w_hat = self.spectral.fft(w0.to(torch.float64))
        step = self.stepper_for(w_hat)
        for _ in range(self.warmup_steps):
            w_hat = step(w_hat)
        path = rollout(step, w_hat, self.steps_per_output * (self.n_times - 1), self.steps_per_output)
        stride = self.solver_resolution // self.resolution
        return self.spectral.ifft(path).movedim(0, 1)[..., ::stride, ::stride].to(inputs.dtype)

    # ------------------------------------------------------------------ physics
    def stepper_for(self, like: torch.Tensor):
        """The IMEX step ``w_hat -> w_hat`` (float64, on ``like``'s device)."""
        k2 = self.spectral.k_squared(torch.float64, like.device)
        return _STEPPERS[self.stepper](-self.viscosity * k2, self._advection_and_forcing(like.device), self.dt)

    def at_resolution(self, resolution: int) -> "NavierStokes":
        """The same flow (viscosity, forcing, time step, window, initial-field law) solved
        directly on a ``resolution^2`` grid (itself when it already is). A forcing given as
        a tensor lives on this solver grid only: ``ValueError``."""
        resolution = check_int("resolution", resolution, minimum=4)
        if resolution == self.resolution == self.solver_resolution:
            return self
        if self.forcing_name == "custom":
            raise ValueError(f"a custom forcing tensor lives on the {self.solver_resolution}^2 solver grid and cannot "
                             f"be moved to {resolution}^2; build the problem with resolution == solver_resolution "
                             f"or pass the forcing on the new grid")
        return NavierStokes(resolution=resolution, viscosity=self.viscosity,
                            forcing=None if self.forcing is None else self.forcing_name, t_end=self.t_end,
                            n_times=self.n_times, dt=self.dt, warmup=self.warmup, stepper=self.stepper,
                            alpha=self.alpha, tau=self.tau)

    def solver_stepper(self, substeps: int | None = None) -> SolverStepper:
        """The solver as a :class:`sciml.pde.SolverStepper` on vorticities ``(batch, 1, s, s)``
        of the solver grid: one call is ``substeps`` IMEX steps of ``dt`` (default: one
        snapshot interval), in Fourier space between the transforms."""
        s, grid = self.solver_resolution, self.spectral

        def encode(u):
            if u.dim() != 4 or tuple(u.shape[1:]) != (1, s, s):
                raise ValueError(f"navier_stokes stepper: states are vorticities (batch, 1, {s}, {s}), "
                                 f"got {tuple(u.shape)}")
            return grid.fft(u[:, 0].to(torch.float64))

        return SolverStepper(self.stepper_for, self.dt, self.steps_per_output if substeps is None else substeps,
                             encode, lambda z: grid.ifft(z).unsqueeze(1), name=f"navier_stokes {s}^2")

    def _advection_and_forcing(self, device):
        grid = self.spectral
        kx, ky = grid.wavenumbers(torch.float64, device, odd=True)
        k2 = grid.k_squared(torch.float64, device)
        inv_k2 = torch.where(k2 > 0, 1 / torch.where(k2 > 0, k2, 1.0), 0.0)
        mask = grid.dealias_mask(torch.float64, device)
        f_hat = None if self.forcing is None else grid.fft(self.forcing.to(device))

        to_u, to_v = 1j * ky * inv_k2, -1j * kx * inv_k2  # w_hat -> u_hat, v_hat
        to_wx, to_wy = 1j * kx, 1j * ky
        minus_mask = -mask.to(torch.complex128)

        def tendency(w_hat):
            u, v = grid.ifft(to_u * w_hat), grid.ifft(to_v * w_hat)
            w_x, w_y = grid.ifft(to_wx * w_hat), grid.ifft(to_wy * w_hat)
            out = minus_mask * grid.fft(torch.addcmul(u * w_x, v, w_y))
            return out if f_hat is None else out + f_hat

        return tendency

    def streamfunction(self, w: torch.Tensor) -> torch.Tensor:
        """``psi`` with ``-Delta psi = w`` (zero mean)."""
        return -self._grid_of(w).inverse_laplacian(w)

    def velocity(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(u, v) = (d_y psi, -d_x psi)``."""
        grid = self._grid_of(w)
        psi = self.streamfunction(w)
        return grid.derivative(psi, (0, 1)), -grid.derivative(psi, (1, 0))

    def rhs(self, w: torch.Tensor) -> torch.Tensor:
        """The semi-discrete tendency ``-P(u . grad w) + nu Delta w + f`` in physical space
        (fields on the solver grid, float64)."""
        if self._grid_of(w) is not self.spectral:
            raise ValueError(f"rhs needs fields on the solver grid {self.spectral.shape}, got {tuple(w.shape)}")
        w_hat = self.spectral.fft(w.to(torch.float64))
        k2 = self.spectral.k_squared(torch.float64, w.device)
        return self.spectral.ifft(self._advection_and_forcing(w.device)(w_hat) - self.viscosity * k2 * w_hat)

    def residual(self, w: torch.Tensor, dt_frames: float) -> torch.Tensor:
        """``R(w) = d_t w + (u . grad) w - nu Delta w - f`` on a trajectory ``(..., T, s, s)``
        (``T >= 5`` frames ``dt_frames`` apart, solver grid).

        Space: as the solver (spectral derivatives, 2/3-masked advection). Time:
        :func:`sciml.pde.time_derivative`, fourth-order finite differences across frames —
        central five-point in the interior, one-sided five-point stencils at the two ends
        of the window (not an FFT in time, which would assume a periodic window). On a solver trajectory ``R``
        is the time-discretisation error; it vanishes for exact solutions up to
        ``O(dt_frames^4)``.
        """
        if w.dim() < 3 or w.shape[-3] < 5:
            raise ValueError(f"residual needs a trajectory (..., T >= 5, s, s), got {tuple(w.shape)}")
        dt_frames = check_real("dt_frames", dt_frames, positive=True)
        w64 = w.to(torch.float64)
        return (time_derivative(w64, dt_frames, axis=-3) - self.rhs(w64)).to(w.dtype)

    def residual_norm(self, w: torch.Tensor, dt_frames: float, s: float = -1.0,
                      shift: float = 10 ** -1.5) -> torch.Tensor:
        """The Spectral-Refiner estimator ``eta = (mean_t ||R(w)||^2_{H^s})^(1/2)`` with
        ``||R||^2_{H^s} = sum_k (shift + |k|^2)^s |R_hat_k|^2`` (defaults ``s = -1``,
        ``shift = 10^(-3/2)``), one value per trajectory."""
        r = self.residual(w, dt_frames)
        return self._grid_of(r).sobolev_norm(r, s, shift=shift, squared=True).mean(-1).sqrt()

    def energy(self, w: torch.Tensor) -> torch.Tensor:
        """Kinetic energy ``E = 1/2 int |u|^2 dx`` per field."""
        grid = self._grid_of(w)
        psi = self.streamfunction(w.to(torch.float64))
        return 0.5 * grid.sobolev_norm(psi, 1.0, shift=0.0, squared=True).to(w.dtype)

    def energy_spectrum(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shell-summed kinetic energy spectrum: ``k = 1, 2, ...`` (integer wavenumbers,
        shell ``k - 1/2 <= |m| < k + 1/2``) and ``E(k)`` per field, ``(..., k_max)``, with
        ``sum_k E(k) = energy(w)`` (all modes up to the grid's corner are counted)."""
        grid = self._grid_of(w)
        w64 = w.to(torch.float64)
        w_hat = grid.fft(w64)
        k2 = grid.k_squared(torch.float64, w.device)
        density = torch.where(k2 > 0, 0.5 * (w_hat.real ** 2 + w_hat.imag ** 2) / torch.where(k2 > 0, k2, 1.0), 0.0)
        density = density * grid.mode_weights(torch.float64, w.device)
        shell = torch.round(k2.sqrt() / (2 * math.pi)).long().expand(density.shape[-2:])
        k_max = int(shell.max())
        flat = density.flatten(-2)
        spectrum = flat.new_zeros(*flat.shape[:-1], k_max + 1).index_add_(-1, shell.flatten(), flat)
        return torch.arange(1, k_max + 1, device=w.device), spectrum[..., 1:].to(w.dtype)

    def enstrophy(self, w: torch.Tensor) -> torch.Tensor:
        """Enstrophy ``Z = 1/2 int w^2 dx`` per field; ``dE/dt = -2 nu Z`` without forcing."""
        return 0.5 * self._grid_of(w).sobolev_norm(w.to(torch.float64), 0.0, squared=True).to(w.dtype)

    def _grid_of(self, w: torch.Tensor) -> SpectralGrid:
        s = w.shape[-1]
        if w.dim() < 2 or w.shape[-2] != s:
            raise ValueError(f"expected square fields (..., s, s), got {tuple(w.shape)}")
        return self.spectral if s == self.solver_resolution else SpectralGrid((s, s))

    def _check(self, w: torch.Tensor) -> torch.Tensor:
        s = self.solver_resolution
        if not isinstance(w, torch.Tensor):
            raise ArgumentTypeError(f"inputs must be a tensor of initial vorticities of shape (n, {s}, {s}) on the "
                                    f"solver grid, got {type(w).__name__}")
        if w.dim() != 3 or tuple(w.shape[1:]) != (s, s):
            raise ValueError(f"inputs: expected initial vorticities of shape (n, {s}, {s}) on the solver grid, got "
                             f"{tuple(w.shape)}")
        if not w.is_floating_point():
            raise ArgumentTypeError(f"inputs must be a floating-point tensor of initial vorticities, got {w.dtype}; "
                                    f"convert it with w.double()")
        if w.shape[0] == 0:
            raise ValueError(f"inputs: expected n >= 1 initial vorticities, got shape {tuple(w.shape)}")
        if not bool(torch.isfinite(w).all()):
            raise ValueError("inputs: the initial vorticity contains inf or nan (NaN or Inf values)")
        return w
