"""The run of ``sciml train`` as a typed configuration (see :mod:`sciml.app.config` for
how YAML files and dotted overrides become this tree).

``model`` is free-form: the keywords of a model of the registry ``sciml.operators.MODELS``
(``name`` plus its constructor keywords; ``in_channels``/``out_channels`` default to the
data's). The seed is applied once, by :func:`~sciml.app.build_run`.

Every section checks its values when it is built (``__post_init__``), so a value out of
range fails at load with its dotted key: counts are positive ints, fractions lie in
``[0, 1)``, rates and factors are finite and positive, the seed is a non-negative int.
Checks that need the data (``data.n_train`` against the file, ``data.val_fraction``
against the number of samples) or the machine (``trainer.device``) run in
:func:`~sciml.app.build_run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from sciml.validation import check_int, check_probability, check_real, check_seed

from .config import ConfigError, checked, checked_optional, read_config

__all__ = ["DataConfig", "LossConfig", "OptimizerConfig", "RunConfig", "SchedulerConfig", "TrainerConfig",
           "load_config"]


@dataclass
class DataConfig:
    """Where the data come from. ``format``: ``h5`` (files written by ``sciml data
    generate``) or ``pt`` (dicts of tensors ``x``, ``y``, e.g. neuraloperator's small sets).
    The first ``n_train`` samples of ``train`` train; ``val_fraction`` of them are held
    out for validation (the last ones); every entry of ``test`` is evaluated (its first
    ``n_test`` samples) with the name as the metric prefix. ``subsample`` keeps every
    k-th point of the training fields; ``test_subsample`` per test set. ``step_lag``
    trains a time stepper: the items are pairs (frame ``k``, frame ``k + step_lag``) of the
    output trajectories (``n_train`` / ``n_test`` then count pairs), and the checkpoint
    records the time between the two frames for :func:`sciml.app.load_stepper`.
    ``normalize_inputs`` / ``normalize_outputs``: Gaussian normalisers fitted on the
    training set, per grid point (``pointwise``), per channel (``scalar``) or none."""

    format: Literal["h5", "pt"] = "h5"
    train: str = ""
    test: dict[str, str] = field(default_factory=dict)
    n_train: int | None = None
    n_test: int | None = None
    val_fraction: float = 0.0
    subsample: int = 1
    test_subsample: dict[str, int] = field(default_factory=dict)
    time_index: int | None = None
    step_lag: int | None = None
    normalize_inputs: Literal["pointwise", "scalar", "none"] = "pointwise"
    normalize_outputs: Literal["pointwise", "scalar", "none"] = "none"
    in_memory: bool = True

    def __post_init__(self):
        for key in ("n_train", "n_test", "step_lag"):
            checked_optional(check_int, f"data.{key}", getattr(self, key))
        checked_optional(check_int, "data.time_index", self.time_index, minimum=None)
        checked(check_probability, "data.val_fraction", self.val_fraction, closed=False,
                hint="the fraction of the training samples held out for validation")
        checked(check_int, "data.subsample", self.subsample, hint="keep every k-th grid point, k >= 1")
        for name, factor in self.test_subsample.items():
            checked(check_int, f"data.test_subsample.{name}", factor)
        unknown = sorted(set(self.test_subsample) - set(self.test))
        if unknown:
            raise ConfigError(f"data.test_subsample names {unknown[0]!r}, which is not a test set; known: "
                              f"{', '.join(self.test) or 'none (data.test is empty)'}")


@dataclass
class OptimizerConfig:
    """Adam, AdamW or SGD (``betas[0]`` is its momentum)."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])

    def __post_init__(self):
        checked(check_real, "optimizer.lr", self.lr, positive=True)
        checked(check_real, "optimizer.weight_decay", self.weight_decay, nonnegative=True)
        if len(self.betas) != 2:
            raise ConfigError(f"optimizer.betas must hold two numbers in [0, 1), e.g. [0.9, 0.999], got {self.betas}")
        for i, beta in enumerate(self.betas):
            checked(check_probability, f"optimizer.betas[{i}]", beta, closed=False)


@dataclass
class SchedulerConfig:
    """``name``: none, cosine (``T_max``), step (``step_size``, ``gamma``), onecycle
    (``max_lr`` = the optimiser lr, ``pct_start``, ``div_factor``, ``final_div_factor``).
    ``interval``: epoch or step."""

    name: Literal["none", "cosine", "step", "onecycle"] = "none"
    interval: Literal["epoch", "step"] = "epoch"
    T_max: int | None = None
    step_size: int = 100
    gamma: float = 0.5
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self):
        checked_optional(check_int, "scheduler.T_max", self.T_max)
        checked(check_int, "scheduler.step_size", self.step_size)
        for key in ("gamma", "div_factor", "final_div_factor"):
            checked(check_real, f"scheduler.{key}", getattr(self, key), positive=True)
        if not 0 < checked(check_real, "scheduler.pct_start", self.pct_start) < 1:
            raise ConfigError(f"scheduler.pct_start must lie in (0, 1) (the warm-up share), got {self.pct_start}")


@dataclass
class LossConfig:
    """``name``: l2 (relative L2), h1 (relative H1), hs (relative H^s); ``args`` go to
    the loss class (e.g. ``periodic: false`` for Dirichlet fields, ``s: -1``)."""

    name: Literal["l2", "h1", "hs"] = "l2"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainerConfig:
    """The keywords of :class:`~sciml.train.Trainer`; ``threads``: torch threads."""

    max_epochs: int = 10
    batch_size: int = 32
    eval_batch_size: int | None = None
    grad_clip: float | None = None
    mixed_precision: bool = False
    monitor: str | None = None
    early_stopping: int | None = None
    save_every: int = 1
    progress: bool = True
    device: str | None = None
    threads: int | None = None

    def __post_init__(self):
        checked(check_int, "trainer.max_epochs", self.max_epochs)
        checked(check_int, "trainer.batch_size", self.batch_size)
        checked(check_int, "trainer.save_every", self.save_every)
        for key in ("eval_batch_size", "early_stopping", "threads"):
            checked_optional(check_int, f"trainer.{key}", getattr(self, key))
        checked_optional(check_real, "trainer.grad_clip", self.grad_clip, positive=True,
                         hint="the largest global gradient norm; leave it unset for no clipping")
        if self.device is not None:
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ConfigError(f"trainer.device: {self.device!r} is not a torch device; use cpu, cuda, cuda:1, "
                                  f"mps, or leave it unset") from None


@dataclass
class RunConfig:
    """The whole run: ``out_dir`` receives checkpoints, metrics and the resolved config."""

    seed: int = 0
    out_dir: str = "runs/run"
    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=lambda: {"name": "fno"})
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    metrics: list[Literal["l1", "l2", "h1"]] = field(default_factory=lambda: ["l2"])
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self):
        checked(check_seed, "seed", self.seed)
        if not self.out_dir.strip():
            raise ConfigError("out_dir is empty; give the folder for checkpoints and metrics, e.g. runs/darcy")


def load_config(path: str | Path | None = None, overrides: list[str] = (), base: dict | None = None) -> RunConfig:
    """The run configuration: defaults, ``base``, the YAML file ``path``, then ``overrides``."""
    return read_config(RunConfig, path, overrides, base)
