"""Generative dynamics: stochastic interpolants, optimal-transport couplings and
Schrödinger bridges (two-marginal and multi-marginal with reference refinement), on the
solver core and the Trainer."""

from .bridges import ESTIMATORS, MultiMarginalBridge, bridge_matching_loss, bridge_objective, bridge_plan
from .couplings import COUPLINGS, couple, ot_plan, sample_conditional, sample_pairs, squared_distances
from .interpolants import FAMILIES, GAMMAS, Interpolant
from .metrics import energy_distance, wasserstein
from .objectives import denoiser_loss, split_velocity_loss, velocity_loss
from .references import AffineReference, fit_affine_drift, fit_affine_from_plans
from .samplers import ode_log_likelihood, sample_diffusion, sample_ode, sample_sde
from .training import PairStream, VelocityField, fit_pairs, from_samples

__all__ = ["AffineReference", "COUPLINGS", "ESTIMATORS", "FAMILIES", "GAMMAS", "Interpolant", "MultiMarginalBridge",
           "PairStream", "VelocityField", "bridge_matching_loss", "bridge_objective", "bridge_plan", "couple",
           "denoiser_loss", "energy_distance", "fit_affine_drift", "fit_affine_from_plans", "fit_pairs",
           "from_samples", "ode_log_likelihood", "ot_plan", "sample_conditional", "sample_diffusion", "sample_ode",
           "sample_pairs", "sample_sde", "split_velocity_loss", "squared_distances", "velocity_loss",
           "wasserstein"]
