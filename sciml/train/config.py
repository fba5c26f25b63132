"""Typed run configurations: YAML files plus dotted ``key=value`` overrides.

A configuration is a tree of dataclasses. :func:`load_config` reads a YAML file
with the safe loader, applies overrides such as ``optimizer.lr=3e-4`` or
``model.n_modes=[12,12]`` (values are parsed as YAML), and builds the tree,
rejecting unknown keys (listing the known ones) and values of the wrong type
(naming the dotted key). Free-form sections (``model``, ``loss`` arguments) are
plain dicts checked later against the signature of what they configure.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "DataConfig", "LossConfig", "OptimizerConfig", "RunConfig", "SchedulerConfig",
           "TrainerConfig", "load_config", "parse_overrides", "to_dict"]


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


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
    records the time between the two frames for :func:`sciml.sim.load_stepper`."""

    format: str = "h5"
    train: str = ""
    test: dict[str, str] = field(default_factory=dict)
    n_train: int | None = None
    n_test: int | None = None
    val_fraction: float = 0.0
    subsample: int = 1
    test_subsample: dict[str, int] = field(default_factory=dict)
    time_index: int | None = None
    step_lag: int | None = None
    normalize_inputs: str = "pointwise"
    normalize_outputs: str = "none"
    in_memory: bool = True


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class SchedulerConfig:
    """``name``: none, cosine (``T_max``), step (``step_size``, ``gamma``), onecycle
    (``max_lr`` = the optimiser lr, ``pct_start``, ``div_factor``, ``final_div_factor``).
    ``interval``: epoch or step."""

    name: str = "none"
    interval: str = "epoch"
    T_max: int | None = None
    step_size: int = 100
    gamma: float = 0.5
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4


@dataclass
class LossConfig:
    """``name``: l2 (relative L2), h1 (relative H1), hs (relative H^s); ``args`` go to
    the loss class (e.g. ``periodic: false`` for Dirichlet fields, ``s: -1``)."""

    name: str = "l2"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainerConfig:
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
    metrics: list[str] = field(default_factory=lambda: ["l2"])
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value, tp, key: str):
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} matches none of "
                          f"{' | '.join(_type_name(o) for o in options)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} fields, got {type(value).__name__}")
        return _build(tp, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        k_tp, v_tp = typing.get_args(tp)
        return {_convert(k, k_tp, key): _convert(v, v_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if tp in (int, float) and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


def _build(cls, data: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = f" in {prefix}" if prefix else ""
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}{where}; "
                          f"known: {', '.join(names)}")
    kwargs = {name: _convert(value, hints[name], f"{prefix}.{name}" if prefix else name)
              for name, value in data.items()}
    return cls(**kwargs)


def parse_overrides(overrides: list[str]) -> dict:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a": {"b": 1}, "c": [1, 2]}`` (values parsed as YAML)."""
    import yaml

    tree: dict = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} must look like dotted.key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({err})") from None
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[parts[-1]] = value
    return tree


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] = (), base: dict | None = None) -> RunConfig:
    """Read ``path`` (YAML, safe loader), apply ``overrides`` and validate."""
    import yaml

    data = _merge(dataclasses.asdict(RunConfig()), base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping at the top level, got {type(loaded).__name__}")
        data = _merge(data, loaded or {})
    data = _merge(data, parse_overrides(list(overrides)))
    return _build(RunConfig, data)


def to_dict(config) -> dict:
    """The configuration as plain data (for YAML/JSON and checkpoints)."""
    return dataclasses.asdict(config)
