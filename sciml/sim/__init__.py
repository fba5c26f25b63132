"""Simulation: classical and learned steppers are interchangeable.

* :mod:`~sciml.sim.steppers`: learned, corrected and resampled steppers (a learned one
  from a checkpoint: ``sciml.app.load_stepper``). The :class:`Stepper` protocol
  and :class:`SolverStepper` live in :mod:`sciml.pde` and are re-exported here.
* :mod:`~sciml.sim.loop`: :class:`Simulation` (rollouts with diagnostics, NaN and
  blow-up stops), :func:`flow_diagnostics`.
* :mod:`~sciml.sim.parareal`: a learned prediction refined by the solver, parallel in time.
* :mod:`~sciml.sim.inverse`: inverse problems through a differentiable solver or surrogate.
* :mod:`~sciml.sim.export`: ``torch.export`` / TorchScript with a verified round trip.
"""

from sciml.pde import SolverStepper, Stepper

from .export import export_model, load_exported
from .inverse import InverseResult, grid_observation, invert
from .loop import Rollout, Simulation, SimulationError, flow_diagnostics, relative_error
from .parareal import PararealResult, parareal
from .steppers import CorrectedStepper, LearnedStepper, ResampledStepper, correction_pairs

__all__ = ["CorrectedStepper", "InverseResult", "LearnedStepper", "PararealResult", "ResampledStepper", "Rollout",
           "Simulation", "SimulationError", "SolverStepper", "Stepper", "correction_pairs", "export_model",
           "flow_diagnostics", "grid_observation", "invert", "load_exported", "parareal", "relative_error"]
