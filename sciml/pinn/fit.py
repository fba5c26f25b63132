"""Training a physics-informed model: weighted loss terms, Adam then L-BFGS, full batch,
through :class:`~sciml.train.Trainer` (progress, per-term logs, checkpoints).

A *term* is ``(weight, fn)`` with ``fn(model, points) -> residual`` (any shape); the
loss is ``sum_i weight_i * norm(residual_i)`` where ``norm`` is

* ``"mse"``: the mean of squares (DeepXDE's and most codes' choice), or
* ``"l2"``: the unsquared Euclidean norm over all points, ``||r||_2`` (the LPINN
  reference code's ``torch.norm``), which weighs terms differently as they shrink.

``points`` is a dict of tensors (e.g. ``{"interior": (N, d), "initial": (M, d)}``) that
every term receives; it is one full batch, so an epoch of the Trainer is one optimiser
step (one L-BFGS call of ``lbfgs_chunk`` iterations in the second phase).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from sciml.train import LBFGS, Trainer
from sciml.validation import check_choice, check_int

__all__ = ["FitResult", "PINNObjective", "fit"]


class PINNObjective:
    """``objective(model, points) -> (loss, {name: weighted term})``."""

    def __init__(self, terms: dict[str, tuple[float, Callable]], norm: str = "mse"):
        check_choice("norm", norm, ("mse", "l2"))
        if not terms:
            raise ValueError("give at least one loss term")
        self.terms, self.norm = dict(terms), norm

    def reduce(self, r: torch.Tensor) -> torch.Tensor:
        return r.square().mean() if self.norm == "mse" else torch.linalg.vector_norm(r)

    def __call__(self, model, points: dict):
        values = {name: weight * self.reduce(fn(model, points)) for name, (weight, fn) in self.terms.items()}
        return sum(values.values()), {k: v.detach() for k, v in values.items()}


class _FullBatch(torch.utils.data.Dataset):
    def __init__(self, points: dict):
        self.points = points

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return self.points


@dataclass
class FitResult:
    """``history``: one record per Adam step and per L-BFGS chunk, with the weighted
    terms as ``train/<name>``; ``stop_reason`` of the L-BFGS phase (``None`` without)."""

    history: list = field(default_factory=list)
    adam_steps: int = 0
    lbfgs_iterations: int = 0
    stop_reason: str | None = None
    seconds: float = 0.0

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


def fit(model: torch.nn.Module, terms: dict, points: dict, *, adam_steps: int = 1000, lr: float = 1e-3,
        amsgrad: bool = False, lbfgs_steps: int = 0, lbfgs_lr: float = 1.0, lbfgs_chunk: int = 50,
        norm: str = "mse", resample: Callable | None = None, resample_every: int = 0,
        checkpoint_dir: str | Path | None = None, progress: bool = False, device=None) -> FitResult:
    """Train ``model`` on ``terms`` (see the module docstring) with Adam for ``adam_steps``
    steps, then L-BFGS (strong Wolfe) for up to ``lbfgs_steps`` iterations, which stops
    early once converged (``FitResult.stop_reason`` says why).

    ``resample(model, points) -> points`` is called every ``resample_every`` Adam steps
    (e.g. with :class:`~sciml.pinn.sampling.ResidualResampler`). Checkpoints go to
    ``checkpoint_dir/adam`` and ``checkpoint_dir/lbfgs``.
    """
    adam_steps = check_int("adam_steps", adam_steps, minimum=0)
    lbfgs_steps = check_int("lbfgs_steps", lbfgs_steps, minimum=0)
    lbfgs_chunk = check_int("lbfgs_chunk", lbfgs_chunk)
    resample_every = check_int("resample_every", resample_every, minimum=0)
    objective = PINNObjective(terms, norm)
    result = FitResult()
    start = time.perf_counter()
    base = None if checkpoint_dir is None else Path(checkpoint_dir)

    def unbatched(net, batch):  # the loader adds a leading axis of 1 to the full batch
        return objective(net, {k: v[0] for k, v in batch.items()})

    common = dict(objective=unbatched, batch_size=1, shuffle=False, progress=progress, device=device,
                  save_every=max(1, adam_steps // 10))
    if adam_steps > 0:
        trainer = Trainer(model, optimizer=lambda p: torch.optim.Adam(p, lr=lr, amsgrad=amsgrad), max_epochs=1,
                          checkpoint_dir=None if base is None else base / "adam", **common)
        resampling = resample is not None and resample_every > 0
        period = resample_every if resampling else adam_steps
        done = 0
        while done < adam_steps:
            chunk = min(period, adam_steps - done)
            trainer.max_epochs = done + chunk
            trainer.fit(_FullBatch(points))
            done += chunk
            if resampling and done < adam_steps:
                points = resample(model, points)
        result.history += trainer.history
        result.adam_steps = adam_steps
    if lbfgs_steps > 0:
        chunk = min(lbfgs_chunk, lbfgs_steps)
        common["save_every"] = 1
        # torch's default max_eval (5/4 max_iter) leaves strong-Wolfe line searches too few
        # evaluations for a short chunk; 25 more let a chunk end on its iterations
        max_eval = chunk * 5 // 4 + 25
        trainer = Trainer(model, optimizer=lambda p: LBFGS(p, lr=lbfgs_lr, max_iter=chunk, max_eval=max_eval),
                          max_epochs=max(1, -(-lbfgs_steps // chunk)),
                          checkpoint_dir=None if base is None else base / "lbfgs", **common)
        trainer.fit(_FullBatch(points))
        result.history += trainer.history
        result.lbfgs_iterations = trainer.optimizer.iterations
        result.stop_reason = trainer.optimizer.stop_reason
    result.seconds = time.perf_counter() - start
    return result
