"""Simulation: classical and learned steppers are interchangeable.

* :mod:`~sciml.sim.steppers`: the :class:`Stepper` protocol; solver, learned, corrected
  and resampled steppers; :func:`load_stepper` from a ``sciml train`` checkpoint.
* :mod:`~sciml.sim.loop`: :class:`Simulation` (rollouts with diagnostics, NaN and
  blow-up stops), :func:`flow_diagnostics`.
* :mod:`~sciml.sim.parareal`: a learned prediction refined by the solver, parallel in time.
* :mod:`~sciml.sim.inverse`: inverse problems through a differentiable solver or surrogate.
* :mod:`~sciml.sim.export`: ``torch.export`` / TorchScript with a verified round trip.
* :mod:`~sciml.sim.config`: the ``sciml simulate CONFIG`` runner (HDF5 trajectories).
"""

from .export import export_model, load_exported
from .inverse import InverseResult, grid_observation, invert
from .loop import Rollout, Simulation, SimulationError, flow_diagnostics, relative_error
from .parareal import PararealResult, parareal
from .steppers import (CorrectedStepper, LearnedStepper, ResampledStepper, SolverStepper, Stepper, correction_pairs,
                       load_stepper)

__all__ = ["CorrectedStepper", "InverseResult", "LearnedStepper", "PararealResult", "ResampledStepper", "Rollout",
           "Simulation", "SimulationError", "SolverStepper", "Stepper", "correction_pairs", "export_model", "flow_diagnostics",
           "grid_observation", "invert", "load_exported", "load_stepper", "parareal", "relative_error"]
