"""The Trainer objective of regularised neural DEs: task loss + lambda(epoch) * regulariser."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sciml.validation import check_choice

from .neural_ode import LambdaSchedule, NeuralODE
from .neural_sde import NeuralSDE

__all__ = ["RegularizedObjective", "de_modules"]


def de_modules(model: nn.Module) -> list:
    """The :class:`NeuralODE` / :class:`NeuralSDE` modules inside ``model`` (itself included)."""
    return [m for m in model.modules() if isinstance(m, (NeuralODE, NeuralSDE))]


class RegularizedObjective:
    """``objective(model, batch)`` for :class:`sciml.train.Trainer`.

    Computes ``task(model, batch)`` (a scalar, or ``(scalar, {name: term})``), then adds
    ``lam * R`` with ``R`` the sum of ``regularization(reduction)`` over every neural DE
    inside the model built with ``regularize=`` or ``local=`` (none: plain task loss).
    ``lam`` is a number or a :class:`LambdaSchedule` indexed by epoch
    ``iterations // steps_per_epoch``; the iteration count lives in the neural DE's
    ``iterations`` buffer, so it is checkpointed and a resumed run continues the
    schedule. Logged terms: ``task``, ``reg``, ``lambda``, ``nfe`` (forward pass,
    the local step included) and ``nfe_backward`` (the previous step's adjoint pass).
    """

    def __init__(self, task: Callable, lam: float | LambdaSchedule = 0.0, reduction: str = "sum",
                 steps_per_epoch: int | None = None):
        check_choice("reduction", reduction, ("sum", "mean"))
        if isinstance(lam, LambdaSchedule) and lam.kind != "constant" and not steps_per_epoch:
            raise ValueError("a decaying LambdaSchedule is indexed by epoch: pass steps_per_epoch "
                             "(batches per epoch)")
        self.task, self.lam, self.reduction, self.steps_per_epoch = task, lam, reduction, steps_per_epoch

    def weight(self, iterations: int) -> float:
        if not isinstance(self.lam, LambdaSchedule):
            return float(self.lam)
        return self.lam(iterations // self.steps_per_epoch if self.steps_per_epoch else 0)

    def __call__(self, model: nn.Module, batch):
        des = de_modules(model)
        if not des:
            raise ValueError("the model contains no NeuralODE or NeuralSDE")
        nfe_backward = sum(m.nfe_backward for m in des)  # of the previous step, before this forward
        out = self.task(model, batch)
        loss, terms = out if isinstance(out, tuple) else (out, {})
        regularised = [m for m in des if m.regularize is not None or m.local is not None]
        terms = dict(terms, task=loss.detach())
        if regularised and model.training:
            lam = self.weight(int(regularised[0].iterations))
            reg = sum(m.regularization(self.reduction) for m in regularised)
            loss = loss + lam * reg
            terms.update(reg=torch.as_tensor(reg).detach(), **{"lambda": lam})
        if model.training:
            for m in des:
                m.iterations += 1
        terms.update(nfe=sum(m.nfe for m in des), nfe_backward=nfe_backward)
        return loss, terms
