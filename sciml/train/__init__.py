"""Training: the Trainer, losses, checkpoints and run configurations."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import ConfigError, RunConfig, load_config, parse_overrides
from .lbfgs import LBFGS
from .losses import H1Loss, HsLoss, LpLoss
from .trainer import Trainer

__all__ = ["CheckpointError", "ConfigError", "H1Loss", "HsLoss", "LBFGS", "LpLoss", "RunConfig", "Trainer",
           "load_checkpoint", "load_config", "parse_overrides", "save_checkpoint"]
