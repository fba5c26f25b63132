"""``sciml data generate``: a dataset of a built-in problem (``problems.PROBLEMS``) on disk."""

from __future__ import annotations

import os
from pathlib import Path

from problems import PROBLEMS

from .config import ConfigError

__all__ = ["generate_dataset"]


def generate_dataset(problem: str, n: int, out: str | os.PathLike, resolution: int | None = None, seed: int = 0,
                     chunk_size: int = 64, progress: bool = True) -> Path:
    """``PROBLEMS[problem](resolution=...).generate(n, out, ...)`` (the problem's default
    resolution when ``None``): ``n`` input/output pairs in the HDF5 file ``out``,
    resumable, sharded over the ranks under ``torchrun``."""
    if problem not in PROBLEMS:
        raise ConfigError(f"unknown problem {problem!r}; known: {', '.join(sorted(PROBLEMS))}")
    built = PROBLEMS[problem]() if resolution is None else PROBLEMS[problem](resolution=resolution)
    return built.generate(n, out, seed=seed, chunk_size=chunk_size, progress=progress)
