"""Neural differential equations on the solver core and their regularisation."""

from .baselines import TaylorField, steer_time, total_derivative
from .latent import LatentODE, LatentOutput, LatentSDE
from .neural_ode import LambdaSchedule, NeuralODE, local_error, regularizer
from .neural_sde import NeuralSDE
from .objective import RegularizedObjective, de_modules

__all__ = ["LambdaSchedule", "LatentODE", "LatentOutput", "LatentSDE", "NeuralODE", "NeuralSDE",
           "RegularizedObjective", "TaylorField", "de_modules", "local_error", "regularizer", "steer_time",
           "total_derivative"]
