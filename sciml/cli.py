"""The ``sciml`` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _quickstart(args: argparse.Namespace) -> int:
    from sciml.quickstart import run

    print("sciml quickstart: fitting a neural ODE to a cubic spiral (dopri5, backprop through the solver)")
    metrics = run(quick=args.quick, out_dir=args.out, seed=args.seed)
    print(f"trained in {metrics['train_seconds']:.1f} s")
    print(f"learned vector field vs A y^3 on the trajectory: relative error median "
          f"{metrics['field_rel_error_median']:.3f}, 90th percentile {metrics['field_rel_error_p90']:.3f}")
    print(f"rollout of the learned model over the whole span: {metrics['rollout_nfe']} evaluations")
    print(f"figure: {metrics['figure']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sciml", description="sciml: scientific machine learning on one differentiable solver core.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    quick = sub.add_parser("quickstart", help="train a neural ODE on a spiral and plot the learned dynamics")
    quick.add_argument("--quick", action="store_true", help="a short run (about 10 s)")
    quick.add_argument("--out", default="outputs/quickstart", help="folder for the figure (default: %(default)s)")
    quick.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    quick.set_defaults(handler=_quickstart)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
