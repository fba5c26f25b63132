"""Neural operators, and the registry the CLI and configs build models from.

``build_model({"name": "fno", ...})`` returns a ``torch.nn.Module`` mapping
``(batch, in_channels, *space)`` to ``(batch, out_channels, *space)`` (``"sfno"``:
``(batch, channels, T_in, x, y)`` frames to ``(batch, channels, T_out, x, y)``). Every entry
of ``MODELS`` is a factory taking plain keyword arguments; unknown arguments are
reported with the accepted ones.

Every registered constructor is decorated with :func:`sciml.train.record_spec` under its
registry name, so a model built here or directly (``MgNO(...)``, ``fno(...)``) carries its
constructor spec ``{"name", "kwargs"}``; the Trainer writes it into checkpoints and
``sciml.app.load`` rebuilds the model from it with :func:`build_model`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from sciml.validation import ArgumentTypeError

from .baselines import fno
from .lsm import LSM, NeuralSpectralBlock
from .mgno import MgConv, MgNO
from .refiner import BochnerL2, Refinement, TrajectoryWindows, refine, train_sfno
from .sfno import SFNO, SpaceTimeSpectralConv

MODELS = {"fno": fno, "lsm": LSM, "mgno": MgNO, "sfno": SFNO}

__all__ = ["BochnerL2", "LSM", "MODELS", "MgConv", "MgNO", "NeuralSpectralBlock", "Refinement", "SFNO",
           "SpaceTimeSpectralConv", "TrajectoryWindows", "build_model", "fno", "refine", "train_sfno"]


def build_model(spec: dict):
    """Build the model described by ``spec`` (``name``, a key of ``MODELS``, plus its keyword
    arguments)."""
    if not isinstance(spec, Mapping):
        raise ArgumentTypeError(f"spec must be a dict with 'name' (one of {', '.join(sorted(MODELS))}) and the "
                                f"model's keyword arguments, got {type(spec).__name__} {spec!r:.40}; e.g. "
                                f"build_model({{'name': 'fno', 'n_modes': (16, 16)}})")
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    factory = MODELS[name]
    params = inspect.signature(factory).parameters
    unknown = sorted(set(spec) - set(params))
    if unknown:
        raise ValueError(f"model {name!r} does not take {', '.join(map(repr, unknown))}; it takes: {', '.join(params)}")
    return factory(**spec)
