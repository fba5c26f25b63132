"""The differentiable, batched solver core: explicit Runge--Kutta ODE solvers with
adaptive (per-batch or per-sample) step-size control, dense output, direct and
adjoint gradients; SDE integrators (Euler–Maruyama, Milstein, stochastic
Runge–Kutta, Heun, midpoint, reversible Heun) with exact reversible adjoints."""

from ._adjoint import BacksolveAdjoint
from ._brownian import BrownianPath
from ._controller import IController, PIController
from ._errors import InstabilityError, MaxStepsError, SolverError, StepSizeUnderflowError
from ._fbm import FractionalNoiseSDE, MarkovFBM, exact_fbm_covariance, sample_exact_fbm
from ._initial_step import initial_step_size
from ._integrate import Stats
from ._linear_sde import LinearSDE
from ._ode import ODESolution, StepError, odeint, solve_ode, step_error
from ._sde import sdeint, solve_sde
from ._sde_problem import NOISE_TYPES, SDE_TYPES, sde_method
from ._sde_solution import SDESolution, SDEStats
from ._sde_step import SDEStepError, sde_initial_step, sde_step_error
from ._tableau import TABLEAUX, ButcherTableau

__all__ = [
    "BacksolveAdjoint",
    "BrownianPath",
    "FractionalNoiseSDE",
    "MarkovFBM",
    "ButcherTableau",
    "IController",
    "InstabilityError",
    "LinearSDE",
    "MaxStepsError",
    "NOISE_TYPES",
    "ODESolution",
    "SDESolution",
    "SDEStats",
    "SDEStepError",
    "SDE_TYPES",
    "PIController",
    "SolverError",
    "Stats",
    "StepError",
    "StepSizeUnderflowError",
    "TABLEAUX",
    "exact_fbm_covariance",
    "initial_step_size",
    "odeint",
    "sample_exact_fbm",
    "sde_initial_step",
    "sde_method",
    "sde_step_error",
    "sdeint",
    "solve_ode",
    "solve_sde",
    "step_error",
]
