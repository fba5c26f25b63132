"""The application layer: configurations, run building, checkpoint loading and the runners
behind the ``sciml`` command. It sits above every method and the simulation layer.

* :mod:`~sciml.app.config`: typed configurations from YAML plus dotted overrides, one
  mechanism for :class:`RunConfig` (:mod:`~sciml.app.run_config`, ``sciml train``) and
  :class:`SimulationConfig` (:mod:`~sciml.app.simulation_config`, ``sciml simulate``);
* :mod:`~sciml.app.training`: :func:`build_run`, :func:`train`, :func:`evaluate_checkpoint`;
* :mod:`~sciml.app.loading`: :func:`load` (the model of any checkpoint) and :func:`load_stepper`;
* :mod:`~sciml.app.simulation`: :func:`simulate` (HDF5 trajectories);
* :mod:`~sciml.app.generation`: :func:`generate_dataset`;
* :mod:`~sciml.app.quickstart`: :func:`run_quickstart`.
"""

from .config import ConfigError, parse_overrides, to_dict
from .generation import generate_dataset
from .loading import NoTimeStepError, load, load_stepper
from .quickstart import run_quickstart
from .run_config import DataConfig, LossConfig, OptimizerConfig, RunConfig, SchedulerConfig, TrainerConfig, load_config
from .simulation import simulate, write_rollout
from .simulation_config import InitialConfig, SimulationConfig, StepperConfig, load_simulation_config
from .training import build_run, evaluate_checkpoint, train

__all__ = ["ConfigError", "DataConfig", "InitialConfig", "LossConfig", "NoTimeStepError", "OptimizerConfig",
           "RunConfig", "SchedulerConfig", "SimulationConfig", "StepperConfig", "TrainerConfig", "build_run",
           "evaluate_checkpoint", "generate_dataset", "load", "load_config", "load_simulation_config", "load_stepper",
           "parse_overrides", "run_quickstart", "simulate", "to_dict", "train", "write_rollout"]
