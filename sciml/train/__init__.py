"""Training: the Trainer, losses, checkpoints, model constructor specs, optimisation."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .lbfgs import LBFGS
from .losses import H1Loss, HsLoss, LpLoss
from .optimize import Minimization, minimize
from .spec import model_spec, record_spec
from .trainer import RunExistsError, Trainer

__all__ = ["CheckpointError", "H1Loss", "HsLoss", "LBFGS", "LpLoss", "Minimization", "RunExistsError", "Trainer",
           "load_checkpoint", "minimize", "model_spec", "record_spec", "save_checkpoint"]
