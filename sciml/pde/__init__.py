"""PDE building blocks on the solver core: periodic spectral grids and Sobolev norms,
Gaussian random fields, finite volumes for conservation laws, batched geometric
multigrid for -div(a grad u) = f, implicit–explicit Crank–Nicolson Runge–Kutta
time steppers, the :class:`Stepper` protocol with the one :func:`rollout` loop, and
fourth-order time derivatives of trajectories."""

from ._finite_volume import ConvexFlux, FiniteVolume1D, FiniteVolume2D, burgers_flux, integrate, linear_advection_flux
from ._grf import gaussian_random_field, grf_eigenvalues, grf_from_noise
from ._multigrid import (MGResult, MultigridHierarchy, PCGResult, apply_operator, assemble_scipy,
                         multigrid_solve, pcg)
from ._elliptic_adjoint import solve_elliptic
from ._finite_difference import time_derivative
from ._imex import CrankNicolsonRK2, LowStorageCNRK, crank_nicolson_rk2, crank_nicolson_rk3, crank_nicolson_rk4
from ._spectral import SpectralGrid
from ._stepping import SolverStepper, Stepper, check_dt, check_states, rollout, saved_states

__all__ = [
    "MGResult",
    "MultigridHierarchy",
    "PCGResult",
    "apply_operator",
    "assemble_scipy",
    "multigrid_solve",
    "pcg",
    "ConvexFlux",
    "CrankNicolsonRK2",
    "FiniteVolume1D",
    "FiniteVolume2D",
    "LowStorageCNRK",
    "SolverStepper",
    "SpectralGrid",
    "Stepper",
    "burgers_flux",
    "check_dt",
    "check_states",
    "crank_nicolson_rk2",
    "crank_nicolson_rk3",
    "crank_nicolson_rk4",
    "gaussian_random_field",
    "grf_eigenvalues",
    "grf_from_noise",
    "integrate",
    "linear_advection_flux",
    "rollout",
    "saved_states",
    "solve_elliptic",
    "time_derivative",
]
