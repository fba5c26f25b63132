"""The training loop every method uses.

A method supplies the model, the loss (``loss(pred, target)`` on ``model(batch["x"])``
and ``batch["y"]``) or a whole ``objective(model, batch) -> loss`` (PINNs, custom
methods), and datasets. The Trainer owns the data order, optimisation, evaluation,
checkpoints and logs.

Exact resume: the permutation of epoch ``e`` is drawn from a generator seeded by
``(seed, e)``, so the data order is a function of the epoch alone; checkpoints hold
the model, optimiser, scheduler, epoch, batches done within it, the best metric, the
early-stopping counter, the logged history and every random generator's state. A run
resumed from any checkpoint (also one written mid-epoch with ``save_every_steps``)
reproduces the uninterrupted run bit for bit on the same device.

Recovery: ``latest.pt`` keeps its predecessor as ``latest.prev.pt``, and every
checkpoint carries a content hash (:mod:`sciml.train.checkpoint`). ``resume="auto"``
takes the newest intact one of ``latest.pt``, ``latest.prev.pt`` and ``best.pt`` (by
optimiser step; ``best.pt`` holds a full state too), with a warning naming any
damaged file; the metrics files are then rewritten from that checkpoint's history
(atomically), so rows logged after it by an interrupted run are never duplicated.
``resume=None`` into a ``checkpoint_dir`` that holds another run refuses to mix the two
(:class:`RunExistsError`) unless ``fresh=True``, which deletes that run's files first.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from sciml.validation import (ArgumentTypeError, check_callable, check_choice, check_int, check_mapping,
                              check_real, check_seed)

from .checkpoint import CheckpointError, get_rng_state, load_checkpoint, previous_path, save_checkpoint, set_rng_state
from .distributed import all_reduce_sum, barrier, setup
from .spec import model_spec

__all__ = ["RUN_FILES", "RunExistsError", "Trainer"]

RUN_FILES = ("latest.pt", "latest.prev.pt", "best.pt", "metrics.jsonl", "metrics.csv")
"""The files of a run in ``checkpoint_dir`` (``fresh=True`` deletes them)."""


class RunExistsError(FileExistsError):
    """``fit(resume=None)`` into a ``checkpoint_dir`` that holds another run."""


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


class _EpochSampler(torch.utils.data.Sampler):
    """Random order of epoch ``e`` from ``(seed, e)``, after ``skip`` global batches.

    With ``world`` ranks, global batch ``k`` (``batch`` indices of the order) is cut into
    ``world`` consecutive slices and rank ``r`` takes slice ``r``: the ranks together see
    exactly the single-process batches."""

    def __init__(self, n: int, seed: int, shuffle: bool, batch: int, rank: int = 0, world: int = 1):
        self.n, self.seed, self.shuffle, self.batch, self.rank, self.world = n, seed, shuffle, batch, rank, world
        self.epoch, self.skip = 0, 0

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def _mine(self) -> list[int]:
        order = self.order()[self.skip * self.batch:]
        if self.world == 1:
            return order
        out = []
        for start in range(0, len(order), self.batch):
            chunk = order[start:start + self.batch]
            size = -(-len(chunk) // self.world)
            out.extend(chunk[self.rank * size:(self.rank + 1) * size])
        return out

    def __iter__(self):
        return iter(self._mine())

    def __len__(self) -> int:
        return len(self._mine())


def _split(batch):
    if isinstance(batch, dict):
        return batch["x"], batch["y"]
    return batch[0], batch[1]


def _has_tensor(sample) -> bool:
    if isinstance(sample, torch.Tensor) or hasattr(sample, "__array_interface__"):  # numpy arrays collate too
        return True
    if isinstance(sample, dict):
        return any(_has_tensor(v) for v in sample.values())
    if isinstance(sample, (tuple, list)):
        return any(_has_tensor(v) for v in sample)
    return False


def _check_dataset(name: str, dataset) -> None:
    """A map-style dataset (``len`` and indexing) whose samples hold tensors (read: the first)."""
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")) or isinstance(dataset, (str, bytes)):
        raise ArgumentTypeError(f"{name} must be a dataset (len() and indexing, e.g. a torch Dataset or a "
                                f"TensorDataset), got {type(dataset).__name__}")
    if len(dataset) > 0 and not _has_tensor(dataset[0]):
        raise ArgumentTypeError(f"{name} must be a dataset of tensors (a tensor, a tuple (x, y) or a dict of "
                                f"tensors per sample), but {name}[0] is {type(dataset[0]).__name__} "
                                f"{dataset[0]!r:.60}; wrap the data, e.g. TensorDataset(x, y)")


def _to(batch, device):
    if isinstance(batch, dict):
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(v.to(device) if isinstance(v, torch.Tensor) else v for v in batch)
    return batch.to(device)


class Trainer:
    """Args:
        model: the ``nn.Module`` to train.
        loss: ``loss(pred, target) -> scalar`` (e.g. ``sciml.train.losses.LpLoss()``), or
        objective: ``objective(model, batch) -> scalar`` (exactly one of the two), or
            ``-> (scalar, {name: term})``: the terms are logged as ``train/name``
            (epoch means), e.g. a PINN's residual and boundary losses.
        optimizer: a factory ``params -> optimizer`` (default Adam, lr 1e-3). With
            ``torch.optim.LBFGS`` (or :class:`sciml.train.LBFGS`) every batch is one
            ``step(closure)``; :class:`sciml.train.LBFGS` also logs its
            ``stop_reason`` per epoch, and training stops once it has converged.
        scheduler: a factory ``optimizer -> scheduler`` or ``None``; stepped per epoch
            (``scheduler_interval="epoch"``) or per optimiser step (``"step"``).
        max_epochs, batch_size, seed, shuffle: the data schedule.
        grad_clip: clip the global gradient norm to this value (> 0).
        eval_sets: ``{name: dataset}`` evaluated every ``eval_every`` epochs with every
            entry of ``metrics`` (``{name: fn(pred, target)}``; default: the loss),
            logged as ``"name/metric"``; metrics are averaged per sample (a metric
            that sums over its batch is divided by the batch size, one that averages
            is weighted by it: pass ``metric_reduction``).
        monitor, mode: the logged value that selects ``best.pt`` and drives
            ``early_stopping`` (evaluations without improvement before stopping).
        checkpoint_dir: where ``latest.pt``, ``best.pt``, ``metrics.csv`` and
            ``metrics.jsonl`` go; ``save_every`` epochs, ``save_every_steps`` steps.
        device: default the model's device.
        progress: a tqdm bar per epoch.
        metadata: plain data stored in every checkpoint (e.g. the run configuration).
            ``metadata["model"]`` is the Trainer's own: the model's constructor spec
            (:func:`sciml.train.model_spec`), recorded when the model has one, from which
            ``sciml.app.load`` rebuilds the model.
        mixed_precision: run the forward pass and loss under ``torch.autocast``: float16
            with a gradient scaler on CUDA, bfloat16 on CPU (no scaler needed). Models
            with FFTs must handle the cast themselves (neuraloperator's FNO has
            ``fno_block_precision``).
        tensorboard: also write the logged values for TensorBoard under
            ``checkpoint_dir/tensorboard`` (needs the ``tensorboard`` package).
    """

    def __init__(self, model: torch.nn.Module, loss: Callable | None = None, objective: Callable | None = None, *,
                 optimizer: Callable | None = None, scheduler: Callable | None = None,
                 scheduler_interval: str = "epoch", max_epochs: int = 10, batch_size: int = 32, seed: int = 0,
                 shuffle: bool = True, grad_clip: float | None = None, eval_sets: dict | None = None,
                 metrics: dict | None = None, metric_reduction: str = "sum", eval_every: int = 1,
                 eval_batch_size: int | None = None, monitor: str | None = None, mode: str = "min",
                 early_stopping: int | None = None, checkpoint_dir: str | None = None, save_every: int = 1,
                 save_every_steps: int | None = None, device=None, progress: bool = True, num_workers: int = 0,
                 metadata: dict | None = None, mixed_precision: bool = False, tensorboard: bool = False):
        if (loss is None) == (objective is None):
            raise ValueError("give exactly one of loss (pred, target) or objective (model, batch)")
        check_choice("scheduler_interval", scheduler_interval, ("epoch", "step"))
        check_choice("mode", mode, ("min", "max"))
        check_choice("metric_reduction", metric_reduction, ("sum", "mean"))
        max_epochs, batch_size = check_int("max_epochs", max_epochs), check_int("batch_size", batch_size)
        eval_every, seed = check_int("eval_every", eval_every), check_seed("seed", seed)
        save_every, num_workers = check_int("save_every", save_every), check_int("num_workers", num_workers, minimum=0)
        if save_every_steps is not None:
            save_every_steps = check_int("save_every_steps", save_every_steps,
                                         hint="or None for epoch checkpoints only")
        if eval_batch_size is not None:
            eval_batch_size = check_int("eval_batch_size", eval_batch_size, hint="or None for batch_size")
        if early_stopping is not None:
            early_stopping = check_int("early_stopping", early_stopping,
                                       hint="the evaluations without improvement before stopping; None disables it")
        grad_clip = check_real("grad_clip", grad_clip, positive=True, allow_none=True,
                               hint="the largest gradient norm; None disables clipping")
        for flag, value in (("shuffle", shuffle), ("progress", progress), ("mixed_precision", mixed_precision),
                            ("tensorboard", tensorboard)):
            _check_flag(flag, value)
        if not isinstance(model, torch.nn.Module):
            raise ArgumentTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if next(model.parameters(), None) is None:
            raise ValueError(f"model {type(model).__name__} has no parameters to train")
        for name, fn in (("loss", loss), ("objective", objective), ("optimizer", optimizer), ("scheduler", scheduler)):
            if fn is not None:
                check_callable(name, fn)
        self.model, self.loss, self.objective = model, loss, objective
        self.rank, self.world, ddp_device = setup()
        if device is None:
            device = ddp_device if ddp_device is not None else next(model.parameters()).device
        self.device = torch.device(device)
        self.model.to(self.device)
        if self.world > 1:
            if batch_size % self.world:
                raise ValueError(f"batch_size ({batch_size}) must be a multiple of the {self.world} processes")
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[self.device] if self.device.type == "cuda"
                                               else None)
        else:
            self.net = self.model
        self.optimizer = (optimizer or (lambda p: torch.optim.Adam(p, lr=1e-3)))(self.model.parameters())
        if not isinstance(self.optimizer, torch.optim.Optimizer):
            raise ArgumentTypeError(f"optimizer must be a factory params -> torch.optim.Optimizer, it returned "
                                    f"{type(self.optimizer).__name__}")
        for group in self.optimizer.param_groups:
            lr = group.get("lr")
            if isinstance(lr, (int, float)) and not (math.isfinite(lr) and lr >= 0):
                raise ValueError(f"the optimizer's learning rate must be finite and >= 0, got lr={lr}")
        self.scheduler = scheduler(self.optimizer) if scheduler is not None else None
        self.scheduler_interval, self.max_epochs, self.batch_size = scheduler_interval, max_epochs, batch_size
        self.seed, self.shuffle, self.grad_clip = seed, shuffle, grad_clip
        self.eval_sets = check_mapping("eval_sets", eval_sets, "a dataset", _check_dataset)
        self.metrics = check_mapping("metrics", metrics, "a callable fn(pred, target)",
                                     lambda where, fn: check_callable(where, fn, "fn(pred, target) -> tensor"))
        self.metrics = self.metrics or ({"loss": loss} if loss is not None else {})
        self.metric_reduction, self.eval_every = metric_reduction, eval_every
        self.eval_batch_size = eval_batch_size or batch_size
        known = [f"{s}/{m}" for s in self.eval_sets for m in self.metrics] + ["train/loss"]
        if monitor is not None and monitor not in known:
            raise ValueError(f"monitor {monitor!r} is not logged; logged values: {', '.join(known)}")
        self.monitor, self.mode, self.early_stopping = monitor, mode, early_stopping
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.save_every, self.save_every_steps = save_every, save_every_steps
        self.progress, self.num_workers = progress, num_workers
        self.epoch, self.batches_done, self.step = 0, 0, 0
        self.best, self.bad_evals, self.history = None, 0, []
        self._epoch_loss = [0.0, 0]
        self._terms, self._term_sums, self._csv_keys = {}, {}, None
        self._needs_closure = isinstance(self.optimizer, torch.optim.LBFGS)
        if self._needs_closure and (mixed_precision or self.world > 1 or grad_clip is not None):
            raise ValueError("L-BFGS (a closure optimiser) runs without mixed_precision, grad_clip or "
                             "several processes")
        self.metadata = dict(metadata or {})
        if "model" in self.metadata:
            raise ValueError("metadata['model'] is reserved for the model's constructor spec, which the Trainer "
                             "records itself; store your entry under another key")
        spec = model_spec(model)
        if spec is not None:
            self.metadata["model"] = spec
        self.amp_dtype = None
        if mixed_precision:
            self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self._writer = None
        if tensorboard and self.rank == 0:
            if self.checkpoint_dir is None:
                raise ValueError("tensorboard logging needs a checkpoint_dir")
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ImportError("tensorboard=True needs the tensorboard package: pip install tensorboard") from err
            self._writer = SummaryWriter(str(self.checkpoint_dir / "tensorboard"))

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        # tensors only (e.g. neuraloperator adds a metadata dict holding functions), so that
        # checkpoints load with torch.load(weights_only=True)
        model_state = {k: v for k, v in self.model.state_dict().items() if isinstance(v, torch.Tensor)}
        return {"model": model_state, "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "epoch": self.epoch, "batches_done": self.batches_done, "step": self.step,
                "best": self.best, "bad_evals": self.bad_evals, "history": self.history,
                "epoch_loss": list(self._epoch_loss), "rng": get_rng_state(), "seed": self.seed,
                "metadata": self.metadata, "scaler": None if self.scaler is None else self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise CheckpointError(f"the checkpoint does not fit this model: {err}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.batches_done, self.step = state["epoch"], state["batches_done"], state["step"]
        self.best, self.bad_evals, self.history = state["best"], state["bad_evals"], list(state["history"])
        self._epoch_loss = list(state["epoch_loss"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])

    def save(self, name: str = "latest.pt") -> Path | None:
        """Write a checkpoint (rank 0 only; every rank waits for it)."""
        if self.checkpoint_dir is None:
            return None
        path = save_checkpoint(self.checkpoint_dir / name, self.state_dict(), keep_previous=name == "latest.pt") \
            if self.rank == 0 else None
        barrier()
        return path

    # ------------------------------------------------------------ loop
    def _compute_loss(self, batch) -> torch.Tensor:
        if self.objective is not None:
            out = self.objective(self.net, batch)
            if isinstance(out, tuple):
                self._terms = out[1] if len(out) > 1 and isinstance(out[1], dict) else {}
                return out[0]
            return out
        x, y = _split(batch)
        return self.loss(self.net(x), y)

    def _closure_step(self, batch) -> torch.Tensor:
        """One ``optimizer.step(closure)`` (L-BFGS); returns the loss of the closure's last
        evaluation (with :class:`~sciml.train.LBFGS`, at the final point), whose terms
        are the ones logged."""
        last = []

        def closure():
            self.optimizer.zero_grad(set_to_none=True)
            loss = self._compute_loss(batch)
            loss.backward()
            last[:] = [loss.detach()]
            return loss

        self.optimizer.step(closure)
        return last[0]

    def fit(self, train_set: Dataset, resume: str | Path | None = None, fresh: bool = False) -> list[dict]:
        """Train until ``max_epochs`` (or early stopping).

        ``resume="auto"``: continue from the newest intact checkpoint of ``checkpoint_dir``
        (``latest.pt``, else ``latest.prev.pt`` or ``best.pt``; see the module doc), or
        start when there is none; a path: continue from that file. ``resume=None``:
        start; a ``checkpoint_dir`` holding another run's files (:data:`RUN_FILES`) is
        a :class:`RunExistsError` unless ``fresh=True``, which deletes them first.
        Continuing a run in the same Trainer (``fit`` again) needs neither."""
        _check_dataset("train_set", train_set)
        if len(train_set) == 0:
            raise ValueError("train_set is empty: there is nothing to train on; check the data file or split")
        _check_flag("fresh", fresh)
        if fresh and resume is not None:
            raise ValueError(f"fresh=True starts a new run and excludes resume={resume!r}")
        if resume is not None and not isinstance(resume, (str, os.PathLike)):
            raise ArgumentTypeError(f"resume must be 'auto', a checkpoint path or None, got {type(resume).__name__}")
        if resume == "auto":
            state = self._newest_checkpoint()
            if state is not None:
                self.load_state_dict(state)
            self._rewrite_metrics()
        elif resume is not None:
            self.load_state_dict(load_checkpoint(resume, map_location=self.device))
            self._rewrite_metrics()
        elif self.checkpoint_dir is not None and self.step == 0 and not self.history:
            self._start_clean(fresh)
        from tqdm.auto import tqdm

        sampler = _EpochSampler(len(train_set), self.seed, self.shuffle, self.batch_size, self.rank, self.world)
        stop = self.early_stopping is not None and self.bad_evals >= self.early_stopping
        while self.epoch < self.max_epochs and not stop:
            sampler.epoch, sampler.skip = self.epoch, self.batches_done
            # a private generator: creating the loader must not consume the global RNG
            loader = DataLoader(train_set, batch_size=self.batch_size // self.world, sampler=sampler,
                                num_workers=self.num_workers,
                                generator=torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch))
            self.model.train()
            start, stop_lbfgs = time.perf_counter(), False
            bar = tqdm(loader, desc=f"epoch {self.epoch + 1}/{self.max_epochs}",
                       disable=not self.progress or self.rank != 0, leave=False)
            for batch in bar:
                batch = _to(batch, self.device)
                if self._needs_closure:
                    loss = self._closure_step(batch)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"the loss became {loss.item()} at epoch {self.epoch + 1}, "
                                                 f"step {self.step}")
                    self._after_step(loss, bar, 1)
                    if getattr(self.optimizer, "converged", False):
                        break
                    continue
                self.optimizer.zero_grad(set_to_none=True)
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                                    enabled=self.amp_dtype is not None):
                    loss = self._compute_loss(batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss.item()} at epoch {self.epoch + 1}, "
                                             f"step {self.step}; lower the learning rate or clip gradients")
                # DDP averages gradients over ranks: a loss summed over its batch needs the
                # factor world to give the single-process gradient of the global batch
                scale = self.world if getattr(self.loss, "reduction", "mean") == "sum" else 1
                scaled = loss * scale if scale != 1 else loss
                if self.scaler is not None:
                    self.scaler.scale(scaled).backward()
                    self.scaler.unscale_(self.optimizer)
                else:
                    scaled.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                if self.scaler is not None:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    self.optimizer.step()
                self._after_step(loss, bar, scale)
            total, batches = all_reduce_sum([self._epoch_loss[0], self._epoch_loss[1]], self.device)
            record = {"epoch": self.epoch + 1, "step": self.step,
                      "train/loss": total / max(batches, 1),
                      "lr": self.optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
            if self._term_sums:
                names = sorted(self._term_sums)
                sums = all_reduce_sum([self._term_sums[k] for k in names], self.device)
                record.update({f"train/{k}": v / max(batches, 1) for k, v in zip(names, sums)})
                self._term_sums = {}
            if getattr(self.optimizer, "stop_reason", None) is not None:
                record["stop_reason"] = self.optimizer.stop_reason
                stop_lbfgs = self.optimizer.converged
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            self.epoch += 1
            self.batches_done, self._epoch_loss = 0, [0.0, 0]
            if self.eval_sets and self.epoch % self.eval_every == 0:
                record.update(self.evaluate())
            self.history.append(record)  # before best.pt is saved: best.pt is a full state to resume from
            stop = self._track(record) or stop_lbfgs
            self._log(record)
            if self.epoch % self.save_every == 0 or self.epoch == self.max_epochs or stop:
                self.save()
        return self.history

    def _newest_checkpoint(self) -> dict | None:
        """The newest intact state among ``latest.pt``, ``latest.prev.pt`` and ``best.pt``
        (by optimiser step, then epoch; ties go to that order), ``None`` when there is none."""
        if self.checkpoint_dir is None:
            return None
        latest = self.checkpoint_dir / "latest.pt"
        found, damaged = [], []
        for rank, path in enumerate((latest, previous_path(latest), self.checkpoint_dir / "best.pt")):
            if not path.is_file():
                continue
            try:
                state = load_checkpoint(path, map_location=self.device)
            except CheckpointError as err:
                damaged.append(str(err))
                continue
            found.append(((state.get("step", 0), state.get("epoch", 0), -rank), path, state))
        if not found:
            if damaged:
                raise CheckpointError(f"no checkpoint of {self.checkpoint_dir} can be read: {'; '.join(damaged)}. "
                                      f"Restore one from a copy, or start the run again with fresh=True (the CLI's "
                                      f"--no-resume), which deletes them")
            return None
        _, path, state = max(found, key=lambda item: item[0])
        if damaged:
            warnings.warn(f"{'; '.join(damaged)}. Resuming from {path} (epoch {state['epoch']}, step "
                          f"{state['step']}) instead", RuntimeWarning, stacklevel=3)
        return state

    def _start_clean(self, fresh: bool) -> None:
        """Before a new run: refuse to mix with another run in ``checkpoint_dir``, or
        (``fresh``) delete its files."""
        old = [name for name in RUN_FILES if (self.checkpoint_dir / name).exists()]
        if old and not fresh:
            raise RunExistsError(f"checkpoint_dir {self.checkpoint_dir} holds another run ({', '.join(old)}); pass "
                                 f"resume='auto' to continue it, fresh=True to delete it and start again (the "
                                 f"CLI's --no-resume), or choose another directory")
        if self.rank == 0:
            for name in old:
                (self.checkpoint_dir / name).unlink()
        barrier()
        self._csv_keys = None

    def _rewrite_metrics(self) -> None:
        """``metrics.jsonl`` and ``metrics.csv`` from ``self.history`` (each atomically): the
        rows of the state resumed from, no more."""
        if self.checkpoint_dir is None or self.rank != 0:
            return
        jsonl, table = self.checkpoint_dir / "metrics.jsonl", self.checkpoint_dir / "metrics.csv"
        self._csv_keys = None
        if not self.history:
            jsonl.unlink(missing_ok=True)
            table.unlink(missing_ok=True)
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(jsonl, "".join(json.dumps(row) + "\n" for row in self.history))
        self._write_csv(self.history)

    def _write_csv(self, rows: list[dict]) -> None:
        keys = self._csv_keys = list(dict.fromkeys(k for row in rows for k in row))
        path = self.checkpoint_dir / "metrics.csv"
        tmp = path.with_name(".metrics.csv.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows({k: row.get(k, math.nan) for k in keys} for row in rows)
        tmp.replace(path)

    def _after_step(self, loss: torch.Tensor, bar, scale: int) -> None:
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        self.step += 1
        self.batches_done += 1
        value = float(loss.detach())
        self._epoch_loss[0] += value
        self._epoch_loss[1] += 1 / scale  # summed losses: the ranks' values add up to one batch
        for name, term in self._terms.items():
            self._term_sums[name] = self._term_sums.get(name, 0.0) + float(term) / scale
        self._terms = {}
        bar.set_postfix(loss=f"{value:.4g}")
        if self.save_every_steps and self.step % self.save_every_steps == 0:
            self.save()

    def _track(self, record: dict) -> bool:
        if self.monitor is None or self.monitor not in record:
            return False
        value = record[self.monitor]
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if better:
            self.best, self.bad_evals = value, 0
            self.save("best.pt")
        else:
            self.bad_evals += 1
        return self.early_stopping is not None and self.bad_evals >= self.early_stopping

    @torch.no_grad()
    def evaluate(self, sets: dict | None = None) -> dict:
        """``{"set/metric": per-sample average}`` over ``sets`` (default ``eval_sets``)."""
        sets = self.eval_sets if sets is None else sets
        was_training = self.model.training
        self.model.eval()
        out = {}
        for name, dataset in sets.items():
            totals, count = {m: 0.0 for m in self.metrics}, 0
            shard = torch.utils.data.Subset(dataset, range(self.rank, len(dataset), self.world))
            for batch in DataLoader(shard, batch_size=self.eval_batch_size, shuffle=False):
                x, y = _split(_to(batch, self.device))
                pred = self.model(x)
                for m, fn in self.metrics.items():
                    value = float(fn(pred, y))
                    totals[m] += value if self.metric_reduction == "sum" else value * len(x)
                count += len(x)
            summed = all_reduce_sum([totals[m] for m in self.metrics] + [count], self.device)
            out.update({f"{name}/{m}": summed[i] / summed[-1] for i, m in enumerate(self.metrics)})
        self.model.train(was_training)
        return out

    def _log(self, record: dict) -> None:
        if self.checkpoint_dir is None or self.rank != 0:
            return
        if self._writer is not None:
            for key, value in record.items():
                if key not in ("epoch", "step") and isinstance(value, (int, float)):
                    self._writer.add_scalar(key, value, record["epoch"])
            self._writer.flush()
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with open(self.checkpoint_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        path = self.checkpoint_dir / "metrics.csv"
        if self._csv_keys is not None and path.is_file() and set(record) <= set(self._csv_keys):
            with open(path, "a", newline="") as f:  # same columns: append (no quadratic rewrite)
                csv.DictWriter(f, fieldnames=self._csv_keys).writerow(
                    {k: record.get(k, math.nan) for k in self._csv_keys})
            return
        self._write_csv(self.history)
