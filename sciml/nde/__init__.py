"""Neural differential equations on the solver core and their regularisation."""

from .baselines import TaylorField, steer_time, total_derivative
from .fractional import (FractionalPaths, FractionalSDE, conditional_std, fractional_ou_covariance,
                         gaussian_log_likelihood)
from .fractional_latent import ConstantDiffusion, LatentFractionalSDE, LinearDrift, interpolate
from .latent import LatentODE, LatentOutput, LatentSDE
from .neural_ode import LambdaSchedule, NeuralODE, local_error, regularizer
from .neural_sde import NeuralSDE
from .objective import RegularizedObjective, de_modules
from .video import FrameDecoder, FrameEncoder, moving_digits

__all__ = ["ConstantDiffusion", "FractionalPaths", "FractionalSDE", "FrameDecoder", "FrameEncoder", "LambdaSchedule",
           "LatentFractionalSDE", "LatentODE", "LatentOutput", "LatentSDE", "LinearDrift", "NeuralODE", "NeuralSDE",
           "RegularizedObjective", "TaylorField", "conditional_std", "de_modules", "fractional_ou_covariance",
           "gaussian_log_likelihood", "interpolate", "local_error", "moving_digits", "regularizer", "steer_time",
           "total_derivative"]
