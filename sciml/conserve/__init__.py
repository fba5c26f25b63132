"""Exact conservation for probabilistic predictions (ProbConserv): the Gaussian update
on a linear constraint, constraints from the integral form of a conservation law, the
Attentive Neural Process base model, SoftC and HardC baselines, metrics."""

from .anp import Attention, AttentiveNP
from .constraint import ConservationConstraint, periodic_weights, trapezoid_weights
from .data import ContextTargetSet, exact_values, sample_context
from .probconserv import (Prediction, conservation_error, log_likelihood, predict, shock_positions,
                          softc_objective, train_anp)
from .update import conservation_update

__all__ = ["Attention", "AttentiveNP", "ConservationConstraint", "ContextTargetSet", "Prediction",
           "conservation_error", "conservation_update", "exact_values", "log_likelihood", "periodic_weights",
           "predict", "sample_context", "shock_positions", "softc_objective", "train_anp", "trapezoid_weights"]
