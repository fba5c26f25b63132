"""Neural differential equations on the solver core and their regularisation."""

from .baselines import TaylorField, steer_time, total_derivative
from .neural_ode import LambdaSchedule, NeuralODE, local_error, regularizer

__all__ = ["LambdaSchedule", "NeuralODE", "TaylorField", "local_error", "regularizer", "steer_time",
           "total_derivative"]
