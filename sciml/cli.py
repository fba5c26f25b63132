"""The ``sciml`` command line: parses arguments and calls :mod:`sciml.app`.

Errors. A user error ends the command with exit code 2 and one line on stderr,
``sciml COMMAND: <what is wrong, naming the flag or the dotted config key, and the fix>``.
User errors are what a command line, a config or the files it names can cause: a bad
flag (argparse), :class:`~sciml.app.ConfigError` (a config key or value),
:class:`~sciml.train.CheckpointError` (a missing, corrupt or foreign checkpoint),
``OSError`` (a missing file, a directory given for a file, permissions, a full disk),
``ValueError`` (the library's answer to a bad argument, the
:class:`~sciml.validation.ArgumentTypeError` included) and ``FloatingPointError`` (a
training loss that became NaN or Inf). Any other exception (``KeyError``,
``IndexError``, ``ZeroDivisionError``, a plain ``TypeError``, ...) is a bug of sciml and
keeps its traceback (exit code 1). ``sciml --debug COMMAND ...`` shows the traceback of
user errors as well. Ctrl-C ends with exit code 130 and one line; ``sciml train`` and
``sciml data generate`` resume where they stopped when run again.
"""

from __future__ import annotations

import argparse
import os
import sys

from problems import PROBLEMS
from sciml.app import (ConfigError, evaluate_checkpoint, generate_dataset, load_config, load_simulation_config,
                       run_quickstart, simulate, train)
from sciml.train import CheckpointError
from sciml.train.distributed import launch
from sciml.validation import check_int

__all__ = ["USER_ERRORS", "main"]

USER_ERRORS = (ConfigError, CheckpointError, OSError, ValueError, FloatingPointError)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``sciml train: error: ...; see sciml train --help`` (exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}; see `{self.prog} --help`\n")


def _int_flag(minimum: int):
    """An argparse type: an int ``>= minimum`` (a float or a word is refused, not truncated)."""
    wanted = "a positive int" if minimum == 1 else "a non-negative int" if minimum == 0 else f"an int >= {minimum}"

    def parse(text: str) -> int:
        try:
            return check_int("value", int(text), minimum=minimum)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None

    return parse


_POSITIVE, _NON_NEGATIVE = _int_flag(1), _int_flag(0)


def _quickstart(args: argparse.Namespace) -> int:
    print("sciml quickstart: Darcy data from the built-in multigrid solver; MgNO and FNO trained on 33x33, "
          "tested at 33x33 and zero-shot at 65x65")
    result = run_quickstart(quick=args.quick, out_dir=args.out, seed=args.seed, threads=args.threads)
    print(f"data generated in {result['data_seconds']:.1f} s; {result['n_train']} training samples, "
          f"{result['epochs']} epochs per model")
    print(f"{'model':<6}{'params':>10}{'L2 33':>9}{'H1 33':>9}{'L2 65 (zero-shot)':>19}{'H1 65':>9}{'train s':>9}")
    for name, r in result["models"].items():
        m = r["metrics"]
        print(f"{name:<6}{r['parameters']:>10,}{m['33/l2']:>9.4f}{m['33/h1']:>9.4f}"
              f"{m['65 (zero-shot)/l2']:>19.4f}{m['65 (zero-shot)/h1']:>9.4f}{r['train_seconds']:>9.0f}")
    print(f"figure: {result['figure']}")
    return 0


def _relaunch(nproc: int, argv: list[str]) -> int:
    """Run ``sciml ARGV`` in ``nproc`` processes under torchrun (``--`` keeps torchrun's
    own option parser away from ours)."""
    return launch(nproc, ["sciml.cli", *argv])


def _strip_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            out.append(item)
    return out


def _data_generate(args: argparse.Namespace) -> int:
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _relaunch(args.nproc, _strip_nproc(args.argv))
    path = generate_dataset(args.problem, args.n, args.out, resolution=args.resolution, seed=args.seed,
                            chunk_size=args.chunk_size, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":
        print(f"wrote {args.n} samples of {args.problem} to {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _relaunch(args.nproc, _strip_nproc(args.argv))
    cfg = load_config(args.config, args.overrides)
    history = train(cfg, resume=None, fresh=True) if args.no_resume else train(cfg, resume="auto")
    if os.environ.get("RANK", "0") == "0" and history:
        last = history[-1]
        shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if "/" in k)
        print(f"trained {last['epoch']} epochs; {shown}")
        print(f"checkpoints and metrics in {cfg.out_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    data = {}
    for item in args.data or []:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(item))[0], item
        if not name or not path:
            raise ConfigError(f"--data {item!r}: expected NAME=FILE or FILE, e.g. --data test=data/test.h5")
        data[name] = path
    result = evaluate_checkpoint(args.checkpoint, data or None, args.metrics, args.batch_size)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value:.6g}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    path, rollout = simulate(load_simulation_config(args.config, args.overrides))
    print(rollout.summary())
    print(f"trajectory: {path}")
    return 0 if rollout.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sciml", description="sciml: scientific machine learning on one differentiable solver core.",
        epilog="A user error (a bad flag or config value, a missing or corrupt file) ends with exit code 2 and one "
               "line naming the flag or config key and the fix; --debug shows its Python traceback. Any other "
               "error is a bug of sciml and shows its traceback (exit code 1).")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of user errors too (put it before the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    quick = sub.add_parser("quickstart", help="generate Darcy data, train MgNO and FNO, compare them")
    quick.add_argument("--quick", action="store_true", help="a short run (about 20 s)")
    quick.add_argument("--threads", type=_POSITIVE, default=None, help="torch threads (default: torch's choice)")
    quick.add_argument("--out", default="outputs/quickstart", help="folder for the figure (default: %(default)s)")
    quick.add_argument("--seed", type=_NON_NEGATIVE, default=0, help="random seed (default: %(default)s)")
    quick.set_defaults(handler=_quickstart)

    data = sub.add_parser("data", help="datasets of the built-in problems")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    gen = data_sub.add_parser("generate", help="solve a problem for random inputs and write HDF5 (resumable)")
    gen.add_argument("problem", choices=sorted(PROBLEMS), help="problem name")
    gen.add_argument("--n", type=_POSITIVE, required=True, help="number of samples")
    gen.add_argument("--out", required=True, help="output HDF5 file")
    gen.add_argument("--resolution", type=_POSITIVE, default=None, help="grid points per dimension (problem default)")
    gen.add_argument("--seed", type=_NON_NEGATIVE, default=0, help="seed (default: %(default)s)")
    gen.add_argument("--chunk-size", type=_POSITIVE, default=64,
                     help="samples per resumable chunk (default: %(default)s)")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.add_argument("--nproc", type=_POSITIVE, default=1,
                     help="generate in this many processes under torchrun (same file as one process)")
    gen.set_defaults(handler=_data_generate)

    tr = sub.add_parser("train", help="train a model from a YAML config (see configs/)")
    tr.add_argument("config", help="YAML run configuration")
    tr.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optimizer.lr=3e-4 trainer.max_epochs=50")
    tr.add_argument("--nproc", type=_POSITIVE, default=1, help="data-parallel processes under torchrun")
    tr.add_argument("--no-resume", action="store_true",
                    help="start a clean run: delete the checkpoints and metrics of the run in out_dir first "
                         "(default: resume it)")
    tr.set_defaults(handler=_train)

    ev = sub.add_parser("evaluate", help="metrics of a trained checkpoint")
    ev.add_argument("checkpoint", help="a latest.pt or best.pt (of `sciml train`, or of any Trainer with --data)")
    ev.add_argument("--data", nargs="*", help="NAME=FILE pairs (default: the run's test sets)")
    ev.add_argument("--metrics", nargs="*", choices=("l1", "l2", "h1"), help="l2, l1, h1 (default: the run's)")
    ev.add_argument("--batch-size", type=_POSITIVE, default=32, help="samples per batch (default: %(default)s)")
    ev.set_defaults(handler=_evaluate)

    si = sub.add_parser("simulate", help="roll out a solver, a trained stepper or a hybrid from a YAML config")
    si.add_argument("config", help="YAML simulation configuration (see configs/simulate_*.yaml)")
    si.add_argument("overrides", nargs="*", help="dotted overrides, e.g. steps=20 stepper.kind=model")
    si.set_defaults(handler=_simulate)
    return parser


def _command(args: argparse.Namespace) -> str:
    return " ".join(["sciml", args.command] + ([args.data_command] if args.command == "data" else []))


def main(argv: list[str] | None = None) -> int:
    """Run ``sciml ARGV``; returns the exit code (0 done, 1 a bug or a rollout that blew
    up, 2 a user error in one line on stderr, 130 interrupted)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse's own exit: --help (0) or a bad flag (2, one line printed)
        return exit_.code if isinstance(exit_.code, int) else 2
    args.argv = argv
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except USER_ERRORS as err:
        if args.debug:
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{_command(args)}: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        resumable = args.command == "train" or args.command == "data"
        print(f"{_command(args)}: interrupted" + ("; run the same command again to resume" if resumable else ""),
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
