"""Operator learning from a :class:`~sciml.train.config.RunConfig`: datasets,
normalisers, model, optimiser, scheduler, loss and metrics, trained by the
:class:`~sciml.train.Trainer`; and evaluation of a saved run.

The checkpoint stores the resolved configuration, so ``evaluate`` rebuilds the model
(normalisers included, they are part of its state) from the checkpoint alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import Subset

from sciml.data import FieldDataset, GaussianNormalizer, NormalizedModel, load_pt_dataset
from sciml.operators import build_model

from .checkpoint import load_checkpoint
from .config import ConfigError, RunConfig, load_config, to_dict
from .losses import H1Loss, HsLoss, LpLoss
from .trainer import Trainer

__all__ = ["build_run", "evaluate_checkpoint", "load_model", "train"]

LOSSES = {"l2": LpLoss, "h1": H1Loss, "hs": HsLoss}


def _load(path: str, cfg, subsample: int, n: int | None):
    if cfg.format == "pt":
        data = load_pt_dataset(path)
        if subsample > 1:
            raise ConfigError("subsample applies to h5 datasets; resample .pt sets beforehand")
    elif cfg.format == "h5":
        data = FieldDataset(path, in_memory=cfg.in_memory, subsample=subsample, time_index=cfg.time_index,
                            step_lag=cfg.step_lag)
    else:
        raise ConfigError(f"data.format must be 'h5' or 'pt', got {cfg.format!r}")
    if n is not None:
        if n > len(data):
            raise ConfigError(f"{path} holds {len(data)} samples, fewer than the {n} requested")
        data = Subset(data, range(n))
    return data


def _stack(dataset, key: str) -> torch.Tensor:
    return torch.stack([dataset[i][key] for i in range(len(dataset))])


def _normalizer(kind: str, fields: torch.Tensor):
    if kind == "none":
        return None
    if kind not in ("pointwise", "scalar"):
        raise ConfigError(f"normalisation must be none, pointwise or scalar, got {kind!r}")
    return GaussianNormalizer(pointwise=kind == "pointwise").fit(fields)


def _metric(name: str, cfg: RunConfig):
    if name in ("l2", "l1"):
        return LpLoss(p=2 if name == "l2" else 1, reduction="sum")
    if name == "h1":
        args = cfg.loss.args if cfg.loss.name == "h1" else {}
        return H1Loss(**{**args, "reduction": "sum"})
    raise ConfigError(f"unknown metric {name!r}; known: l1, l2, h1")


def _model(cfg: RunConfig, sample: dict | None, train=None) -> NormalizedModel:
    spec = dict(cfg.model)
    for key, item in (("in_channels", "x"), ("out_channels", "y")):
        if key not in spec:
            if sample is None:
                raise ConfigError(f"the run configuration does not record model.{key}; rebuild the model from "
                                  f"data (evaluate_checkpoint) or add it to the configuration")
            spec[key] = sample[item].shape[0]
    try:
        core = build_model(spec)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model: {err}") from None
    if train is None:  # shapes only: the state_dict fills the statistics
        x_norm = None if cfg.data.normalize_inputs == "none" else GaussianNormalizer(
            pointwise=cfg.data.normalize_inputs == "pointwise")
        y_norm = None if cfg.data.normalize_outputs == "none" else GaussianNormalizer(
            pointwise=cfg.data.normalize_outputs == "pointwise")
    else:
        x_norm = _normalizer(cfg.data.normalize_inputs, _stack(train, "x"))
        y_norm = _normalizer(cfg.data.normalize_outputs, _stack(train, "y"))
    return NormalizedModel(core, x_norm, y_norm)


def _optimizer(cfg: RunConfig):
    o = cfg.optimizer
    name = o.name.lower()
    if name == "adam":
        return lambda p: torch.optim.Adam(p, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
    if name == "adamw":
        return lambda p: torch.optim.AdamW(p, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
    if name == "sgd":
        return lambda p: torch.optim.SGD(p, lr=o.lr, momentum=o.betas[0], weight_decay=o.weight_decay)
    raise ConfigError(f"optimizer.name must be adam, adamw or sgd, got {o.name!r}")


def _scheduler(cfg: RunConfig, steps_per_epoch: int):
    s = cfg.scheduler
    total = cfg.trainer.max_epochs * (steps_per_epoch if s.interval == "step" else 1)
    if s.name == "none":
        return None
    if s.name == "cosine":
        return lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=s.T_max or total)
    if s.name == "step":
        return lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=s.step_size, gamma=s.gamma)
    if s.name == "onecycle":
        if s.pct_start * total < 2 or (1 - s.pct_start) * total < 2:
            raise ConfigError(f"the one-cycle schedule needs >= 2 {s.interval}s in each phase, but {total} {s.interval}s "
                              f"with pct_start={s.pct_start} leave fewer; use scheduler.interval=step or more epochs")
        return lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=cfg.optimizer.lr, total_steps=total, pct_start=s.pct_start, div_factor=s.div_factor,
            final_div_factor=s.final_div_factor)
    raise ConfigError(f"scheduler.name must be none, cosine, step or onecycle, got {s.name!r}")


def build_run(cfg: RunConfig) -> tuple[Trainer, object]:
    """The Trainer and training set described by ``cfg``."""
    d = cfg.data
    if not d.train:
        raise ConfigError("data.train is empty: give the training file")
    full = _load(d.train, d, d.subsample, d.n_train)
    n_val = int(round(d.val_fraction * len(full)))
    train = Subset(full, range(len(full) - n_val)) if n_val else full
    eval_sets = {"val": Subset(full, range(len(full) - n_val, len(full)))} if n_val else {}
    for name, path in d.test.items():
        eval_sets[name] = _load(path, d, d.test_subsample.get(name, 1), d.n_test)
    if cfg.loss.name not in LOSSES:
        raise ConfigError(f"loss.name must be one of {', '.join(LOSSES)}, got {cfg.loss.name!r}")
    try:
        loss = LOSSES[cfg.loss.name](**{"reduction": "mean", **cfg.loss.args})
    except TypeError as err:
        raise ConfigError(f"loss.args: {err}") from None
    model = _model(cfg, train[0], train)
    sample = train[0]
    cfg.model.setdefault("in_channels", int(sample["x"].shape[0]))  # recorded, so load_model needs no data
    cfg.model.setdefault("out_channels", int(sample["y"].shape[0]))
    metadata = {"config": to_dict(cfg)}
    if d.step_lag is not None:
        base = full.dataset if isinstance(full, Subset) else full
        times = getattr(base, "grid", {}).get("t")
        if times is None or len(times) < 2:
            raise ConfigError(f"{d.train} has no time grid 't'; a stepper needs the time between frames")
        metadata["stepper"] = {"dt": float(times[1] - times[0]) * d.step_lag}
    t = cfg.trainer
    if t.threads:
        torch.set_num_threads(t.threads)
    steps = -(-len(train) // t.batch_size)
    monitor = t.monitor or (f"{next(iter(eval_sets))}/{cfg.metrics[0]}" if eval_sets and cfg.metrics else None)
    trainer = Trainer(model, loss, optimizer=_optimizer(cfg), scheduler=_scheduler(cfg, steps),
                      scheduler_interval=cfg.scheduler.interval, max_epochs=t.max_epochs, batch_size=t.batch_size,
                      seed=cfg.seed, grad_clip=t.grad_clip, eval_sets=eval_sets,
                      metrics={m: _metric(m, cfg) for m in cfg.metrics}, eval_batch_size=t.eval_batch_size,
                      monitor=monitor, early_stopping=t.early_stopping, checkpoint_dir=cfg.out_dir,
                      save_every=t.save_every, device=t.device, progress=t.progress,
                      metadata=metadata)
    return trainer, train


def train(cfg: RunConfig, resume: str | None = "auto") -> list[dict]:
    """Train the run ``cfg`` (resuming from ``out_dir/latest.pt`` when present); writes
    the resolved configuration to ``out_dir/config.json``."""
    torch.manual_seed(cfg.seed)
    trainer, train_set = build_run(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    return trainer.fit(train_set, resume=resume)


def load_model(path: str, device="cpu") -> tuple[NormalizedModel, dict]:
    """The trained model of a checkpoint written by ``sciml train`` (normalisers included,
    evaluation mode) and the checkpoint's metadata; no data needed."""
    state = load_checkpoint(path, map_location=device)
    if "config" not in state.get("metadata", {}):
        raise ConfigError(f"{path} has no run configuration; it was not written by `sciml train`")
    cfg = load_config(None, base=state["metadata"]["config"])
    model = _model(cfg, None)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state["metadata"]


def evaluate_checkpoint(path: str, data: dict[str, str] | None = None, metrics: list[str] | None = None,
                        batch_size: int = 32) -> dict:
    """Metrics of the model in checkpoint ``path`` on ``{name: file}`` (default: the run's
    test sets), as ``{"name/metric": value}``."""
    state = load_checkpoint(path)
    if "config" not in state.get("metadata", {}):
        raise ConfigError(f"{path} has no run configuration; it was not written by `sciml train`")
    cfg = load_config(None, base=state["metadata"]["config"])
    sets = {name: _load(file, cfg.data, cfg.data.test_subsample.get(name, 1), None)
            for name, file in (data or cfg.data.test).items()}
    if not sets:
        raise ConfigError("no data to evaluate: pass --data NAME=FILE")
    model = _model(cfg, next(iter(sets.values()))[0])
    model.load_state_dict(state["model"])
    names = metrics or cfg.metrics
    trainer = Trainer(model, LpLoss(), metrics={m: _metric(m, cfg) for m in names}, eval_batch_size=batch_size,
                      progress=False, device="cpu")
    return trainer.evaluate(sets)
