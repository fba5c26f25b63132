"""Generative dynamics: stochastic interpolants and their samplers on the solver core."""

from .interpolants import FAMILIES, GAMMAS, Interpolant
from .objectives import denoiser_loss, split_velocity_loss, velocity_loss
from .samplers import ode_log_likelihood, sample_ode, sample_sde

__all__ = ["FAMILIES", "GAMMAS", "Interpolant", "denoiser_loss", "ode_log_likelihood", "sample_ode", "sample_sde",
           "split_velocity_loss", "velocity_loss"]
