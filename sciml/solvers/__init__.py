"""The differentiable, batched solver core: explicit Runge--Kutta ODE solvers with
adaptive (per-batch or per-sample) step-size control, dense output, direct and
adjoint gradients."""

from ._adjoint import BacksolveAdjoint
from ._controller import IController, PIController
from ._errors import MaxStepsError, SolverError, StepSizeUnderflowError
from ._integrate import Stats
from ._ode import ODESolution, StepError, odeint, solve_ode, step_error
from ._tableau import TABLEAUX, ButcherTableau

__all__ = [
    "BacksolveAdjoint",
    "ButcherTableau",
    "IController",
    "MaxStepsError",
    "ODESolution",
    "PIController",
    "SolverError",
    "Stats",
    "StepError",
    "StepSizeUnderflowError",
    "TABLEAUX",
    "odeint",
    "solve_ode",
    "step_error",
]
