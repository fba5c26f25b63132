"""Training generative drifts through :class:`sciml.train.Trainer`.

Generative objectives draw fresh samples each step. :class:`PairStream` makes step ``i``
a pure function of ``(seed, i)``: its ``x0`` and ``x1`` batches and the seed of the
generator the objective uses for its times, noises and coupling draws, so a run is
reproducible and resumes exactly from any Trainer checkpoint. :func:`fit_pairs` wires a
``loss(model, x0, x1, generator)`` into the Trainer, one optimiser step per item.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sciml.nn import mlp
from sciml.train import Trainer
from sciml.validation import check_int, check_model_input, check_seed

__all__ = ["PairStream", "VelocityField", "fit_pairs", "from_samples"]


class VelocityField(nn.Module):
    """``v(t, x)``: an MLP on ``[x, t]`` ``(batch, d + 1) -> (batch, d)``.

    Args:
        dim: ``d``.
        width, depth: hidden width and number of hidden layers (torchcfm's 2-D toys: 64, 3).
        activation: a name in :data:`sciml.nn.ACTIVATIONS` (``"selu"``, ``"relu"``, ``"tanh"``, ...).
    """

    def __init__(self, dim: int, width: int = 64, depth: int = 3, activation: str = "selu"):
        super().__init__()
        dim = check_int("dim", dim)
        self.net = mlp([dim + 1] + [check_int("width", width)] * check_int("depth", depth) + [dim], activation)
        self.dim = dim

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        check_model_input("VelocityField", x, layout=f"(batch, {self.dim})", ndim=2, channels=self.dim,
                          dtype=self.net[0].weight.dtype)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        return self.net(torch.cat([x, t.unsqueeze(-1)], -1))


def from_samples(x: torch.Tensor) -> Callable:
    """A sampler ``(n, generator) -> (n, d)`` drawing rows of ``x`` with replacement."""
    def sample(n, generator=None):
        return x[torch.randint(x.shape[0], (n,), generator=generator, device=x.device)]
    return sample


class PairStream(torch.utils.data.Dataset):
    """``steps`` items ``{"x0", "x1", "seed"}``; item ``i`` draws ``batch_size`` samples of
    ``sample_source`` and ``sample_target`` (each ``(n, generator) -> (n, d)``) from a
    generator seeded by ``(seed, i)``."""

    def __init__(self, sample_source: Callable, sample_target: Callable, steps: int, batch_size: int,
                 seed: int = 0):
        steps, batch_size = check_int("steps", steps), check_int("batch_size", batch_size)
        seed = check_seed("seed", seed)
        self.source, self.target = sample_source, sample_target
        self.steps, self.batch_size, self.seed = steps, batch_size, seed

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int) -> dict:
        key = self.seed * 1_000_003 + int(i)
        g = torch.Generator().manual_seed(key)
        return {"x0": self.source(self.batch_size, g), "x1": self.target(self.batch_size, g),
                "seed": torch.tensor(key)}


def fit_pairs(model: nn.Module, loss: Callable, sample_source: Callable, sample_target: Callable, steps: int,
              batch_size: int = 256, lr: float = 1e-3, seed: int = 0, checkpoint_dir: str | None = None,
              progress: bool = False, scheduler: Callable | None = None) -> list[dict]:
    """Train ``model`` for ``steps`` Adam steps on ``loss(model, x0, x1, generator)``
    (e.g. an interpolant objective after a coupling) over fresh batches; returns the
    Trainer's history. ``checkpoint_dir`` makes the run resumable (it resumes when a
    checkpoint is there)."""
    stream = PairStream(sample_source, sample_target, steps, batch_size, seed)

    def objective(net, batch):
        g = torch.Generator(device=batch["x0"].device).manual_seed(int(batch["seed"][0]))
        return loss(net, batch["x0"][0], batch["x1"][0], g)

    trainer = Trainer(model, objective=objective, optimizer=lambda p: torch.optim.Adam(p, lr=lr), max_epochs=1,
                      batch_size=1, shuffle=False, seed=seed, checkpoint_dir=checkpoint_dir, progress=progress,
                      save_every_steps=max(1, steps // 10) if checkpoint_dir else None, scheduler=scheduler,
                      scheduler_interval="step")
    return trainer.fit(stream, resume="auto" if checkpoint_dir else None)
