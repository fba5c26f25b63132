"""Classification neural ODE with solver-heuristic regularisation (the MNIST NODE of
Pal et al. 2021 / 2023), reduced for a CPU: scikit-learn's bundled 8x8 digits (1,797
images, no download), 1,437 train / 360 test (fixed split).

Model: ``z(0) = x / 16`` (64 pixels), ``dz/dt = MLP([z, t])`` (65 -> 100 -> 64, tanh)
solved to t = 1 by Tsit5 at rtol = atol = 1.4e-8 (the papers'), then ``Linear(64, 10)``.
Training through :class:`sciml.train.Trainer` with :class:`sciml.nde.RegularizedObjective`:
Adam 1e-3, batch 256. Methods: vanilla; ERNODE (``R_E``, ``reduction="mean"`` as the
reference code, lambda 100 -> 10 exponentially over the epochs, the paper's MNIST
schedule); local ERNODE (unbiased, lambda 2.5 -> 1, the local paper's MNIST schedule;
adjoint backprop with ``--local-adjoint``). Reported: test accuracy, test NFE (the
whole test set in one solve), training and prediction seconds.

The full MNIST run (784 -> 100 -> 784, batch 512, 75 epochs) is a GPU job:
``--mnist`` loads MNIST from ``--mnist-path`` (torchvision's layout) instead; not run
here (no GPU was lent and the machine has no copy of MNIST).

    python benchmarks/nde_digits.py --epochs 60 --seeds 0 1 2 --jobs 2
    python benchmarks/nde_digits.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runs import by_method, run_jobs  # noqa: E402
from sciml.nde import LambdaSchedule, NeuralODE, RegularizedObjective, TaylorField  # noqa: E402
from sciml.train import Trainer  # noqa: E402

TOL = 1.4e-8


def digits(mnist_path: str | None = None):
    """``(x_train, y_train, x_test, y_test)``, pixels in [0, 1]."""
    if mnist_path:
        from torchvision.datasets import MNIST

        sets = [MNIST(mnist_path, train=flag, download=False) for flag in (True, False)]
        return tuple(v for s in sets for v in (s.data.reshape(len(s), -1).float() / 255, s.targets))
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = torch.tensor(data.data, dtype=torch.float32) / 16, torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    test, train = order[:360], order[360:]
    return x[train], y[train], x[test], y[test]


class Field(nn.Module):
    def __init__(self, dim: int, hidden: int = 100):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 1, hidden), nn.Tanh(), nn.Linear(hidden, dim))

    def forward(self, t, z):
        return self.net(torch.cat([z, torch.as_tensor(t, dtype=z.dtype).expand(z.shape[0], 1)], 1))


class Classifier(nn.Module):
    """``x -> Linear(z(1))``; with ``taylor=K`` the solve also integrates TayNODE's
    ``R_K`` per sample into ``self.r``."""

    def __init__(self, dim: int, taylor: int | None = None, **ode_kwargs):
        super().__init__()
        self.field, self.taylor = Field(dim), taylor
        self.ode = NeuralODE(TaylorField(self.field, taylor) if taylor else self.field, rtol=TOL, atol=TOL,
                             **ode_kwargs)
        self.head = nn.Linear(dim, 10)
        self.register_buffer("times", torch.tensor([0.0, 1.0]))

    def forward(self, x):
        if self.taylor:
            z, r = self.ode((x, x.new_zeros(x.shape[0], 1)), self.times)
            self.r = r[-1].mean()
            return self.head(z[-1])
        return self.head(self.ode(x, self.times)[-1])


class Pairs(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


def run(method: str, seed: int, epochs: int, mnist_path: str | None = None, local_adjoint: bool = False,
        ernode_lam: tuple = (100.0, 10.0), local_lam: tuple = (2.5, 1.0), reduction: str = "mean",
        taynode_lam: float = 1e-2) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    x, y, x_test, y_test = digits(mnist_path)
    batch = 512 if mnist_path else 256
    steps = -(-len(x) // batch)
    extra = 0.0
    if method in ("ernode", "ernode_squared"):
        model = Classifier(x.shape[1], regularize="error" if method == "ernode" else "error_squared")
        lam = LambdaSchedule(*ernode_lam, epochs, "exponential")
    elif method == "taynode":
        model, lam, extra = Classifier(x.shape[1], taylor=2), 0.0, taynode_lam
    elif method.startswith("local"):
        model = Classifier(x.shape[1], local=method.split("_")[1], seed=seed, adjoint=local_adjoint)
        lam = LambdaSchedule(*local_lam, epochs, "exponential")
    else:
        model, lam = Classifier(x.shape[1]), 0.0

    def task(net, b):
        loss = nn.functional.cross_entropy(net(b["x"]), b["y"])
        return loss + extra * net.r if extra else loss

    objective = RegularizedObjective(task, lam, reduction=reduction, steps_per_epoch=steps)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model, objective=objective, max_epochs=epochs, batch_size=batch, seed=seed, progress=False,
                          optimizer=lambda p: torch.optim.Adam(p, lr=1e-3), checkpoint_dir=tmp, save_every=epochs)
        start = time.perf_counter()
        history = trainer.fit(Pairs(x, y))
        train_s = time.perf_counter() - start
    test_model = Classifier(x.shape[1])
    test_model.ode.func.load_state_dict(model.field.state_dict())
    test_model.head.load_state_dict(model.head.state_dict())
    test_model.eval()
    times = []
    with torch.no_grad():
        for _ in range(3):
            s = time.perf_counter()
            logits = test_model(x_test)
            times.append(time.perf_counter() - s)
    return {"method": method, "seed": seed, "accuracy": float((logits.argmax(1) == y_test).float().mean()),
            "nfe": test_model.ode.nfe, "train_nfe": [h["train/nfe"] for h in history], "train_s": train_s,
            "predict_s": statistics.median(times)}


def descend_regularizer(epochs: int = 10, steps: int = 40, lr: float = 1e-3, seed: int = 0) -> list[tuple]:
    """The diagnostic behind the README: train a vanilla model for ``epochs``, then take
    ``steps`` Adam steps on ``R_E`` alone (one batch of 256, steps frozen per solve) and
    record ``(step, R_E, NFE)``: if ``R_E`` were a good proxy the NFE would fall."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    x, y, _, _ = digits()
    model = Classifier(x.shape[1], regularize="error")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 256):
            idx = order[i:i + 256]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    opt, trace = torch.optim.Adam(model.ode.parameters(), lr=lr), []
    for k in range(steps + 1):
        opt.zero_grad()
        model(x[:256])
        reg = model.ode.regularization()
        trace.append((k, reg.item(), model.ode.nfe))
        reg.backward()
        opt.step()
    return trace


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=["vanilla", "ernode", "local_unbiased"])
    parser.add_argument("--ernode-lam", type=float, nargs=2, default=[100.0, 10.0],
                        help="ERNODE lambda, first and last epoch (exponential decay)")
    parser.add_argument("--local-lam", type=float, nargs=2, default=[2.5, 1.0], help="local lambda, first and last")
    parser.add_argument("--taynode-lam", type=float, default=1e-2, help="weight of TayNODE's R_2")
    parser.add_argument("--reduction", choices=["sum", "mean"], default="mean", help="of R_E over the steps")
    parser.add_argument("--local-adjoint", action="store_true", help="local variant with the backsolve adjoint")
    parser.add_argument("--mnist", action="store_true", help="the papers' MNIST run (GPU; needs --mnist-path)")
    parser.add_argument("--mnist-path", default=None)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--quick", action="store_true", help="CI-sized: 2 epochs, one seed")
    parser.add_argument("--descend-re", action="store_true",
                        help="the diagnostic: descend R_E alone from a vanilla model and print R_E and NFE")
    args = parser.parse_args(argv)
    if args.descend_re:
        trace = descend_regularizer(*((1, 2) if args.quick else ()))
        for k, reg, nfe in trace[::max(1, len(trace) // 8)] + trace[-1:]:
            print(f"step {k:3d}  R_E {reg:.4f}  NFE {nfe}")
        return {"trace": trace}
    if args.mnist and not args.mnist_path:
        parser.error("--mnist needs --mnist-path (a directory with torchvision's MNIST files)")
    epochs, seeds = (2, [0]) if args.quick else (args.epochs, args.seeds)
    path = args.mnist_path if args.mnist else None
    jobs = [(m, s, epochs, path, args.local_adjoint, tuple(args.ernode_lam), tuple(args.local_lam), args.reduction,
             args.taynode_lam) for m in args.methods for s in seeds]
    rows = run_jobs(run, jobs, args.jobs)
    summary = by_method(rows, args.methods, ("accuracy", "nfe", "train_s", "predict_s"))
    print(f"{'MNIST' if path else '8x8 digits'} classification NODE, tsit5 tol {TOL:g}, {epochs} epochs, "
          f"seeds {seeds}; means over seeds")
    print(f"{'method':16s} {'test acc':>9s} {'test NFE':>9s} {'vs vanilla':>10s} {'train s':>8s} {'predict ms':>10s}")
    for m, s in summary.items():
        print(f"{m:16s} {100 * s['accuracy']:8.2f}% {s['nfe']:9.1f} {s['ratio']:10.3f} {s['train_s']:8.1f} "
              f"{1e3 * s['predict_s']:10.1f}   NFE per seed {s['nfe_per_seed']}")
        curves = [r["train_nfe"] for r in rows if r["method"] == m]
        at = [statistics.mean(c[min(len(c) - 1, q * len(c) // 4)] for c in curves) for q in range(5)]
        print(f"{'':16s} train NFE at 0, 1/4, 1/2, 3/4, all epochs: {', '.join(f'{v:.0f}' for v in at)}")
    return summary


if __name__ == "__main__":
    main()
