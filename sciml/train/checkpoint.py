"""Atomic, content-hashed checkpoints readable with ``torch.load(weights_only=True)``.

``save_checkpoint`` writes to a temporary file in the target's directory, flushes and
fsyncs it, then renames it over the target: an interrupted save leaves the previous
checkpoint intact. With ``keep_previous=True`` the file it replaces is first renamed to
``<stem>.prev<suffix>`` (``latest.prev.pt``), a fallback should the new one be damaged later.

Every checkpoint carries the SHA-256 of its content under the key ``"content_sha256"``: a
digest of the state's structure (keys, types) and values (a tensor's dtype, shape and
bytes). ``load_checkpoint`` recomputes it, so a flipped byte anywhere in the file is a
:class:`CheckpointError` naming the file instead of silently different weights. States
hold only tensors, numbers, strings, lists and dicts (random-generator states are
converted to tensors and lists for that reason).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

__all__ = ["CheckpointError", "content_hash", "get_rng_state", "load_checkpoint", "previous_path", "save_checkpoint",
           "set_rng_state"]

HASH_KEY = "content_sha256"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or does not fit the model."""


def _feed(digest, value) -> None:
    """Update ``digest`` with the type, structure and content of ``value``."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").reshape(-1).clone(memory_format=torch.contiguous_format)
        digest.update(f"T{flat.dtype}{tuple(value.shape)}:".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}:".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}:".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype}{value.shape}:".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif value is None or isinstance(value, (bool, int, float, str, bytes, np.generic, torch.dtype, torch.device)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"a checkpoint holds tensors, numbers, strings, lists and dicts; got {type(value).__name__}")


def content_hash(state: dict) -> str:
    """The SHA-256 (hex) of ``state``'s structure and content, independent of the file format."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != HASH_KEY})
    return digest.hexdigest()


def previous_path(path: str | os.PathLike) -> Path:
    """Where ``save_checkpoint(path, ..., keep_previous=True)`` keeps the file it replaces."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_checkpoint(path: str | os.PathLike, state: dict, keep_previous: bool = False) -> Path:
    """Write ``state`` (plus its content hash) to ``path`` atomically; ``keep_previous``:
    rename an existing ``path`` to :func:`previous_path` first."""
    if not isinstance(state, dict):
        raise TypeError(f"a checkpoint state is a dict, got {type(state).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**{k: v for k, v in state.items() if k != HASH_KEY}, HASH_KEY: content_hash(state)}
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    if keep_previous and path.is_file():
        os.replace(path, previous_path(path))
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The state saved at ``path``, its content hash checked (the ``"content_sha256"`` key removed).

    Raises :class:`CheckpointError` when the file is missing, not a checkpoint, truncated,
    or its content does not match its hash."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, TypeError,
            AttributeError, KeyError, IndexError, OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}); restore it from a copy or delete "
                              f"it to start again") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a checkpoint state dict")
    stored = state.pop(HASH_KEY, None)
    if stored is None:
        raise CheckpointError(f"checkpoint {path} carries no content hash: it was not written by "
                              f"sciml.train.save_checkpoint (or is damaged); read it with "
                              f"torch.load(path, weights_only=True) if you trust it")
    try:
        actual = content_hash(state)
    except (TypeError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} is corrupt: {err}") from None
    if actual != stored:
        raise CheckpointError(f"checkpoint {path} is corrupt: its content hash is {actual[:16]}..., the file "
                              f"records {str(stored)[:16]}...; restore it from a copy or delete it to start again")
    return state
def get_rng_state() -> dict:
    """The torch (CPU and CUDA), numpy and python generator states, as weights-only data."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
