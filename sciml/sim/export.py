"""Trained models for use outside Python training code.

``export_model(model, example, path)`` writes

* ``format="export"`` (default): a ``torch.export`` program (``.pt2``), with the batch
  axis dynamic; load it with ``torch.export.load(path).module()`` or
  :func:`load_exported`. It can be compiled ahead of time (AOTInductor) for C++;
* ``format="torchscript"``: a traced TorchScript module (``.pt``), loadable from C++ with
  ``torch::jit::load`` and from Python without sciml (``torch.jit.load``). torch 2.13
  deprecates ``torch.jit.trace`` (a ``DeprecationWarning``); it is kept for existing
  C++ consumers, and ``"export"`` is the format to prefer.

Both are checked on export: the reloaded program must reproduce the eager model on
``example`` (and on a batch of another size, for the dynamic batch) to ``rtol``, else
the export raises instead of writing a file that computes something else. The file is
written atomically.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["export_model", "load_exported"]

FORMATS = ("export", "torchscript")


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(torch.finfo(b.dtype).tiny))


def load_exported(path: str | os.PathLike):
    """The callable saved by :func:`export_model` (format from the file suffix)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported model {path} does not exist")
    if path.suffix == ".pt2":
        return torch.export.load(str(path)).module()
    return torch.jit.load(str(path), map_location="cpu")


def _export_program(model, example, dynamic_batch):
    if dynamic_batch is False:
        return torch.export.export(model, (example,)), False
    try:
        dynamic = ({0: torch.export.Dim("batch", min=1, max=1 << 16)},)
        return torch.export.export(model, (example,), dynamic_shapes=dynamic), True
    except Exception as err:  # torch.export reports specialisation as several error types
        if dynamic_batch:
            raise RuntimeError(f"torch.export could not keep the batch axis dynamic for {type(model).__name__} "
                               f"({type(err).__name__}: {str(err).splitlines()[0]}); pass dynamic_batch=False "
                               f"for a program fixed to batch {example.shape[0]}") from None
        warnings.warn(f"{type(model).__name__} specialises the batch size under torch.export; the program is "
                      f"fixed to batch {example.shape[0]}", stacklevel=3)
        return torch.export.export(model, (example,)), False


def export_model(model: nn.Module, example: torch.Tensor, path: str | os.PathLike, format: str = "export",
                 dynamic_batch: bool | None = None, rtol: float = 1e-6) -> Path:
    """Export ``model`` (evaluation mode) traced on ``example`` to ``path`` and verify it.

    ``dynamic_batch``: ``True`` requires a program for any batch size, ``False`` fixes it
    to the example's, ``None`` (default) tries the first and falls back to the second with
    a warning (neuraloperator's FNO specialises the batch under ``torch.export``; traced
    TorchScript keeps it dynamic).

    ``path`` gets the suffix of the format (``.pt2`` for export, ``.pt`` for TorchScript)
    if it has none. Returns the path written.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if not isinstance(example, torch.Tensor):
        raise TypeError("example must be a tensor: one batch of model inputs")
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".pt2" if format == "export" else ".pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            reference = model(example)
            tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
            if format == "export":
                program, dynamic_batch = _export_program(model, example, dynamic_batch)
                torch.export.save(program, str(tmp))
            else:
                traced = torch.jit.trace(model, (example,), check_trace=False)
                traced.save(str(tmp))
                dynamic_batch = dynamic_batch is not False
            loaded = load_exported(tmp) if format == "torchscript" else torch.export.load(str(tmp)).module()
            checks = [(example, reference)]
            if dynamic_batch:
                other = torch.cat([example, example[:1]])
                checks.append((other, model(other)))
            for x, y in checks:
                err = _max_rel(loaded(x), y)
                if not err <= rtol:
                    tmp.unlink(missing_ok=True)
                    raise RuntimeError(f"the exported {format} program differs from the eager model by {err:.2e} "
                                       f"(relative, max) on a batch of {x.shape[0]}; not written")
        os.replace(tmp, path)
    finally:
        model.train(was_training)
    return path
