"""``sciml data generate``: a dataset of a built-in problem (``problems.PROBLEMS``) on disk."""

from __future__ import annotations

import os
from pathlib import Path

from problems import PROBLEMS
from sciml.validation import check_int, check_seed

from .config import ConfigError

__all__ = ["generate_dataset"]


def generate_dataset(problem: str, n: int, out: str | os.PathLike, resolution: int | None = None, seed: int = 0,
                     chunk_size: int = 64, progress: bool = True) -> Path:
    """``PROBLEMS[problem](resolution=...).generate(n, out, ...)`` (the problem's default
    resolution when ``None``): ``n`` input/output pairs in the HDF5 file ``out``,
    resumable, sharded over the ranks under ``torchrun``. ``n`` and ``chunk_size`` are
    positive ints, ``seed`` a non-negative int; ``out`` is a file, not a directory."""
    if problem not in PROBLEMS:
        raise ConfigError(f"unknown problem {problem!r}; known: {', '.join(sorted(PROBLEMS))}")
    n, chunk_size, seed = check_int("n", n), check_int("chunk_size", chunk_size), check_seed("seed", seed)
    if Path(out).is_dir():
        raise ConfigError(f"out {out} is a directory; give the HDF5 file to write, e.g. {Path(out) / 'data.h5'}")
    if resolution is None:
        built = PROBLEMS[problem]()
    else:
        try:
            built = PROBLEMS[problem](resolution=check_int("resolution", resolution))
        except ValueError as err:
            raise ConfigError(f"resolution {resolution} does not suit {problem}: {err}") from None
    return built.generate(n, out, seed=seed, chunk_size=chunk_size, progress=progress)
