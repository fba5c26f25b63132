"""One way to get a trained model back: :func:`load` rebuilds it from any checkpoint.

Every :class:`~sciml.train.Trainer` checkpoint records the model's constructor spec once,
in ``metadata["model"]`` (see :mod:`sciml.train.spec`)::

    {"name": "mgno", "kwargs": {...}, "normalizers": {"input": {"pointwise": False, "eps": 1e-6}, "output": None}}

``name`` is a key of the registry ``sciml.operators.MODELS``; ``normalizers`` is present
when the trained model was a :class:`~sciml.data.NormalizedModel`. :func:`load` builds the
model from it, fills its weights (normaliser statistics included) and returns it in
evaluation mode, whether ``sciml train`` or a Python script wrote the checkpoint; no data
or configuration is needed. The rest of the checkpoint's metadata (the run configuration
of ``sciml train``, a stepper's time step) is
``sciml.train.load_checkpoint(path)["metadata"]``.

Checkpoints written by ``sciml train`` before specs were recorded hold only the run
configuration (``metadata["config"]``, whose ``model`` section records the channel
counts); they are rebuilt from it.
"""

from __future__ import annotations

import os

from torch import nn

from sciml.data import GaussianNormalizer, NormalizedModel
from sciml.operators import build_model
from sciml.sim import LearnedStepper
from sciml.train import CheckpointError, load_checkpoint

from .run_config import load_config

__all__ = ["NoTimeStepError", "load", "load_stepper"]


class NoTimeStepError(ValueError):
    """A checkpoint used as a stepper records no time step and none was given."""


def _spec_from_config(config: dict) -> dict:
    """The spec of a checkpoint written by ``sciml train`` before specs were recorded."""
    cfg = load_config(None, base=config)
    kwargs = {k: v for k, v in cfg.model.items() if k != "name"}
    kinds = {"input": cfg.data.normalize_inputs, "output": cfg.data.normalize_outputs}
    return {"name": cfg.model.get("name"), "kwargs": kwargs,
            "normalizers": {side: None if kind == "none" else {"pointwise": kind == "pointwise"}
                            for side, kind in kinds.items()}}


def model_from_state(state: dict, path: str | os.PathLike) -> nn.Module:
    """The model of a loaded checkpoint ``state`` (read from ``path``, named in errors),
    with its weights, in evaluation mode, on the device of the state's tensors."""
    metadata = state.get("metadata", {})
    if "model" in metadata:
        spec = metadata["model"]
    elif "config" in metadata:
        spec = _spec_from_config(metadata["config"])
    else:
        raise CheckpointError(
            f"{path} records no model spec (metadata['model']), so the model cannot be rebuilt from it. The "
            f"Trainer records the spec of models built by sciml.operators (build_model({{'name': ...}}), MgNO(...), "
            f"fno(...), ..., also inside a sciml.data.NormalizedModel) with plain keyword arguments: build the model "
            f"that way and train again, or build it yourself and call "
            f"model.load_state_dict(sciml.train.load_checkpoint(path)['model'])")
    try:
        model = build_model({"name": spec["name"], **spec["kwargs"]})
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: the recorded model spec does not build a model: {err}") from None
    normalizers = spec.get("normalizers")
    if normalizers is not None:
        model = NormalizedModel(model, *(None if normalizers[side] is None else GaussianNormalizer(**normalizers[side])
                                         for side in ("input", "output")))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: the weights do not fit the recorded model: {err}") from None
    return model.eval()


def load(path: str | os.PathLike, device="cpu") -> nn.Module:
    """The trained model of the checkpoint ``path`` (any Trainer checkpoint: ``sciml train``
    or Python), normalisers included, in evaluation mode on ``device``."""
    return model_from_state(load_checkpoint(path, map_location=device), path).to(device)


def load_stepper(checkpoint: str | os.PathLike, dt: float | None = None, residual: bool | None = None,
                 device="cpu") -> LearnedStepper:
    """The model of ``checkpoint`` (see :func:`load`) as a :class:`~sciml.sim.LearnedStepper`.

    ``dt`` and ``residual`` default to what the run recorded in ``metadata["stepper"]``
    (``sciml train`` runs on time pairs, ``data.step_lag``, record the time between the
    paired frames); a checkpoint without one needs ``dt`` (else :class:`NoTimeStepError`)."""
    state = load_checkpoint(checkpoint, map_location=device)
    model = model_from_state(state, checkpoint).to(device)
    metadata = state.get("metadata", {})
    info = metadata.get("stepper", {})
    dt = info.get("dt") if dt is None else dt
    if dt is None:
        raise NoTimeStepError(f"{checkpoint} does not record a time step (it was not trained on time pairs); pass dt=")
    residual = bool(info.get("residual", False)) if residual is None else residual
    return LearnedStepper(model, dt, residual=residual, name=str(metadata.get("name", "model")))
