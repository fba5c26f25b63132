"""PDE building blocks on the solver core: periodic spectral grids and Sobolev norms,
Gaussian random fields, finite volumes for conservation laws, batched geometric
multigrid for -div(a grad u) = f, and implicit–explicit Crank–Nicolson Runge–Kutta
time steppers."""

from ._finite_volume import ConvexFlux, FiniteVolume1D, FiniteVolume2D, burgers_flux, integrate, linear_advection_flux
from ._grf import gaussian_random_field, grf_eigenvalues, grf_from_noise
from ._multigrid import (MGResult, MultigridHierarchy, PCGResult, apply_operator, assemble_scipy,
                         multigrid_solve, pcg)
from ._elliptic_adjoint import solve_elliptic
from ._imex import CrankNicolsonRK2, LowStorageCNRK, crank_nicolson_rk2, crank_nicolson_rk3, crank_nicolson_rk4, rollout
from ._spectral import SpectralGrid

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
    "SpectralGrid",
    "burgers_flux",
    "crank_nicolson_rk2",
    "crank_nicolson_rk3",
    "crank_nicolson_rk4",
    "gaussian_random_field",
    "grf_eigenvalues",
    "grf_from_noise",
    "integrate",
    "linear_advection_flux",
    "rollout",
    "solve_elliptic",
]
