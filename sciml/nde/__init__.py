"""Neural differential equations on the solver core and their regularisation."""

from .neural_ode import LambdaSchedule, NeuralODE, local_error, regularizer

__all__ = ["LambdaSchedule", "NeuralODE", "local_error", "regularizer"]
