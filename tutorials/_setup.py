"""The header every tutorial shares: its command line, output folder, backend, threads and seed.

A tutorial starts with::

    from _setup import tutorial_setup

    args, out = tutorial_setup(__doc__, "ode_solvers", quick_help="fewer tolerances (CI)")

Python puts a script's own folder first on ``sys.path``, so the import works whether the
tutorial runs from the repository root (``python tutorials/ode_solvers.py``) or from
``tutorials/``. The name starts with ``_``: it is a helper, not a tutorial.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import torch

__all__ = ["tutorial_setup"]


def tutorial_setup(doc: str, name: str, quick_help: str = "a small run (CI)", out_help: str = "folder for figures",
                   threads: int | None = 1, full_threads: int | None = None) -> tuple[argparse.Namespace, Path]:
    """Parse ``--quick`` and ``--out DIR`` and prepare the run; returns ``(args, out)``.

    * ``doc`` (the tutorial's ``__doc__``) is the ``--help`` text; ``--out`` defaults to
      ``outputs/tutorials/<name>``, created with its parents. Unknown arguments are
      ignored, so the cells also run in a notebook kernel that passes its own.
    * matplotlib draws with the non-interactive Agg backend (figures go to files).
    * ``torch.set_num_threads(threads)`` (``full_threads`` without ``--quick``, when given;
      ``threads=None`` keeps torch's default): one thread is fastest for tiny networks
      on small CPUs.
    * ``torch.manual_seed(0)`` seeds the global generator.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=f"outputs/tutorials/{name}", help=out_help)
    args, _ = parser.parse_known_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    matplotlib.use("Agg")
    if threads is not None:
        torch.set_num_threads(threads if args.quick or full_threads is None else full_threads)
    torch.manual_seed(0)
    return args, out
