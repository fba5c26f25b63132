"""Operator learning from a :class:`~sciml.app.RunConfig`: datasets, normalisers, model,
optimiser, scheduler, loss and metrics, trained by the :class:`~sciml.train.Trainer`; and
evaluation of a saved run.

The model is built once, from ``cfg.model`` plus the data's channel counts, through the
registry ``sciml.operators.build_model``, and wrapped in a
:class:`~sciml.data.NormalizedModel` whose normalisers are fitted on the training set. The
Trainer records its constructor spec in every checkpoint (:mod:`sciml.train.spec`), so
:func:`~sciml.app.load` and :func:`evaluate_checkpoint` rebuild it from the checkpoint
alone; the configuration is stored beside it (``metadata["config"]``) for the data and
metrics of ``sciml evaluate``.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import torch
from torch.utils.data import Subset

from sciml.data import FieldDataset, GaussianNormalizer, NormalizedModel, load_pt_dataset
from sciml.operators import build_model
from sciml.train import H1Loss, HsLoss, LpLoss, Trainer, load_checkpoint

from .config import ConfigError, build_section, to_dict
from .loading import model_from_state
from .run_config import DataConfig, RunConfig, load_config

__all__ = ["build_run", "evaluate_checkpoint", "train"]

LOSSES = {"l2": LpLoss, "h1": H1Loss, "hs": HsLoss}


def _dataset(key: str, path: str, cfg: DataConfig, subsample: int, n: int | None, n_key: str):
    """The dataset of the config key ``key`` (file ``path``), its first ``n`` samples
    (``n_key`` names that count in errors)."""
    if Path(path).is_dir():
        raise ConfigError(f"{key}: {path} is a directory; give a dataset file")
    if not Path(path).exists():
        raise ConfigError(f"{key}: dataset {path} does not exist (relative paths start at {Path.cwd()}); create it "
                          f"with `sciml data generate` or fix the path")
    if cfg.format == "pt":
        if subsample > 1:
            raise ConfigError("subsample applies to h5 datasets; resample .pt sets beforehand")
        try:
            data = load_pt_dataset(path)
        except (RuntimeError, KeyError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
            raise ConfigError(f"{key}: {path} is not a torch file of tensors x, y ({type(err).__name__}); "
                              f"data.format=pt reads neuraloperator's .pt sets, h5 the files of `sciml data "
                              f"generate`") from None
    else:
        try:
            data = FieldDataset(path, in_memory=cfg.in_memory, subsample=subsample, time_index=cfg.time_index,
                                step_lag=cfg.step_lag)
        except OSError as err:
            raise ConfigError(f"{key}: {path} is not a readable HDF5 file ({' '.join(str(err).split())}); "
                              f"data.format=h5 reads the files of `sciml data generate`, pt reads .pt sets") from None
        except ValueError as err:
            raise ConfigError(f"{key}: {' '.join(str(err).split())}") from None
    if len(data) == 0:
        raise ConfigError(f"{key}: {path} holds no samples")
    if n is not None:
        if n > len(data):
            raise ConfigError(f"{n_key}={n}, but {path} holds only {len(data)} samples; lower {n_key} or "
                              f"generate more")
        data = Subset(data, range(n))
    return data


def _stack(dataset, key: str) -> torch.Tensor:
    return torch.stack([dataset[i][key] for i in range(len(dataset))])


def _normalizer(kind: str, fields: torch.Tensor) -> GaussianNormalizer | None:
    return None if kind == "none" else GaussianNormalizer(pointwise=kind == "pointwise").fit(fields)


def _metric(name: str, cfg: RunConfig):
    if name == "h1":
        args = cfg.loss.args if cfg.loss.name == "h1" else {}
        return H1Loss(**{**args, "reduction": "sum"})
    return LpLoss(p=2 if name == "l2" else 1, reduction="sum")


def _model(cfg: RunConfig, train) -> NormalizedModel:
    """``cfg.model`` (channel counts default to the data's) with normalisers fitted on ``train``."""
    sample = train[0]
    spec = {"in_channels": int(sample["x"].shape[0]), "out_channels": int(sample["y"].shape[0]), **cfg.model}
    try:
        core = build_model(spec)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model: {err}") from None
    return NormalizedModel(core, _normalizer(cfg.data.normalize_inputs, _stack(train, "x")),
                           _normalizer(cfg.data.normalize_outputs, _stack(train, "y")))


def _optimizer(cfg: RunConfig):
    o = cfg.optimizer
    if o.name == "sgd":
        return lambda p: torch.optim.SGD(p, lr=o.lr, momentum=o.betas[0], weight_decay=o.weight_decay)
    optimizer = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
    return lambda p: optimizer(p, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)


def _scheduler(cfg: RunConfig, steps_per_epoch: int):
    s = cfg.scheduler
    total = cfg.trainer.max_epochs * (steps_per_epoch if s.interval == "step" else 1)
    if s.name == "none":
        return None
    if s.name == "cosine":
        return lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=s.T_max or total)
    if s.name == "step":
        return lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=s.step_size, gamma=s.gamma)
    if s.pct_start * total < 2 or (1 - s.pct_start) * total < 2:
        raise ConfigError(f"the one-cycle schedule needs >= 2 {s.interval}s in each phase, but {total} {s.interval}s "
                          f"with pct_start={s.pct_start} leave fewer; use scheduler.interval=step or more epochs")
    return lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=cfg.optimizer.lr, total_steps=total, pct_start=s.pct_start, div_factor=s.div_factor,
        final_div_factor=s.final_div_factor)


def build_run(cfg: RunConfig) -> tuple[Trainer, object]:
    """The Trainer and training set described by ``cfg``.

    ``cfg.seed`` is applied here and only here: it seeds torch's generator right before
    the model is built (initial weights; dropout and other draws during training continue
    from it, and checkpoints carry its state) and is the Trainer's data-order seed."""
    d = cfg.data
    if not d.train:
        raise ConfigError("data.train is empty: give the training file")
    full = _dataset("data.train", d.train, d, d.subsample, d.n_train, "data.n_train")
    n_val = int(round(d.val_fraction * len(full)))
    if d.val_fraction > 0 and not 0 < n_val < len(full):
        raise ConfigError(f"data.val_fraction={d.val_fraction} of {len(full)} training samples holds out {n_val}; "
                          f"choose it so that at least one sample validates and one trains")
    train = Subset(full, range(len(full) - n_val)) if n_val else full
    eval_sets = {"val": Subset(full, range(len(full) - n_val, len(full)))} if n_val else {}
    for name, path in d.test.items():
        eval_sets[name] = _dataset(f"data.test.{name}", path, d, d.test_subsample.get(name, 1), d.n_test,
                                   "data.n_test")
    loss = build_section("loss.args", LOSSES[cfg.loss.name], {"reduction": "mean", **cfg.loss.args})
    torch.manual_seed(cfg.seed)
    model = _model(cfg, train)
    metadata = {"config": to_dict(cfg)}
    if d.step_lag is not None:
        if d.format != "h5":
            raise ConfigError("data.step_lag pairs the frames of h5 trajectories; use data.format=h5")
        times = (full.dataset if isinstance(full, Subset) else full).grid.get("t")
        if times is None or len(times) < 2:
            raise ConfigError(f"{d.train} has no time grid 't'; a stepper needs the time between frames")
        metadata["stepper"] = {"dt": float(times[1] - times[0]) * d.step_lag}
    t = cfg.trainer
    _check_device(t.device)
    out = Path(cfg.out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir: {out} is a file; give a folder for checkpoints and metrics")
    if t.threads:
        torch.set_num_threads(t.threads)
    steps = -(-len(train) // t.batch_size)
    monitor = t.monitor or (f"{next(iter(eval_sets))}/{cfg.metrics[0]}" if eval_sets and cfg.metrics else None)
    try:
        trainer = Trainer(model, loss, optimizer=_optimizer(cfg), scheduler=_scheduler(cfg, steps),
                          scheduler_interval=cfg.scheduler.interval, max_epochs=t.max_epochs,
                          batch_size=t.batch_size, seed=cfg.seed, grad_clip=t.grad_clip, eval_sets=eval_sets,
                          metrics={m: _metric(m, cfg) for m in cfg.metrics}, eval_batch_size=t.eval_batch_size,
                          monitor=monitor, early_stopping=t.early_stopping, checkpoint_dir=cfg.out_dir,
                          save_every=t.save_every, device=t.device, progress=t.progress, metadata=metadata,
                          mixed_precision=t.mixed_precision)
    except ValueError as err:
        raise ConfigError(f"trainer: {' '.join(str(err).split())}") from None
    return trainer, train


def _check_device(device: str | None) -> None:
    """A :class:`ConfigError` when ``trainer.device`` names a backend this machine lacks."""
    kind = None if device is None else torch.device(device).type
    available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    if kind in available and not available[kind]():
        raise ConfigError(f"trainer.device={device}, but torch sees no {kind} device on this machine; set "
                          f"trainer.device=cpu or leave it unset")


def train(cfg: RunConfig, resume: str | None = "auto", fresh: bool = False) -> list[dict]:
    """Train the run ``cfg`` and write its configuration to ``out_dir/config.json``.

    ``resume="auto"``: continue the run in ``out_dir`` when it holds one; ``resume=None``
    with ``fresh=True`` (``sciml train --no-resume``): delete that run's checkpoints and
    metrics and start again; ``resume=None`` alone refuses to mix with an existing run
    (:class:`~sciml.train.RunExistsError`)."""
    trainer, train_set = build_run(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    return trainer.fit(train_set, resume=resume, fresh=fresh)


def evaluate_checkpoint(path: str, data: dict[str, str] | None = None, metrics: list[str] | None = None,
                        batch_size: int = 32) -> dict:
    """Metrics of the model in checkpoint ``path`` on ``{name: file}`` (default: the run's
    test sets), as ``{"name/metric": value}``. The data format, subsampling and metrics
    default to the run's configuration when the checkpoint holds one (``sciml train``),
    else to those of :class:`~sciml.app.RunConfig`."""
    state = load_checkpoint(path)
    model = model_from_state(state, path)
    cfg = load_config(None, base=state.get("metadata", {}).get("config", {}))
    sets = {name: _dataset(f"--data {name}" if data else f"data.test.{name}", file, cfg.data,
                           cfg.data.test_subsample.get(name, 1), None, "data.n_test")
            for name, file in (data or cfg.data.test).items()}
    if not sets:
        raise ConfigError("no data to evaluate: pass --data NAME=FILE")
    names = metrics or cfg.metrics
    unknown = sorted(set(names) - {"l1", "l2", "h1"})
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; known: l1, l2, h1")
    trainer = Trainer(model, LpLoss(), metrics={m: _metric(m, cfg) for m in names}, eval_batch_size=batch_size,
                      progress=False, device="cpu")
    return trainer.evaluate(sets)
