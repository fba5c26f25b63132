"""``sciml quickstart``: learn the dynamics of a cubic spiral with a neural ODE.

The true system is ``dy/dt = A y^3`` (elementwise cube) with
``A = [[-0.1, 2], [-2, -0.1]]`` from ``y(0) = (2, 0)``, the classic neural-ODE demo.
A small MLP vector field is fitted to random short windows of one trajectory by
backpropagating through the adaptive dopri5 solver of :mod:`sciml.solvers`; the
learned model is then rolled out over the whole time span from the initial state.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from sciml.solvers import solve_ode

__all__ = ["run"]

SPIRAL = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])


class CubicField(torch.nn.Module):
    """``f(t, y) = MLP(y^3)``: a tanh MLP on cubed coordinates."""

    def __init__(self, hidden: int = 50):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y**3)


def run(quick: bool = False, out_dir: str | Path = "outputs/quickstart", seed: int = 0) -> dict:
    """Train and evaluate; writes ``quickstart.png`` and returns the metrics.

    Args:
        quick: a short run (about 10 s) instead of the full one (about a minute).
        out_dir: where the figure goes.
        seed: seed of the model initialisation and of the window sampling.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n_points, t_end = 200, 10.0
    iters, window, batch = (150, 20, 16) if quick else (1000, 20, 32)
    t = torch.linspace(0.0, t_end, n_points)
    with torch.no_grad():
        truth = solve_ode(lambda t, y: (y**3) @ SPIRAL.T, torch.tensor([[2.0, 0.0]]), t, rtol=1e-7, atol=1e-9).ys[:, 0]

    field = CubicField()
    opt = torch.optim.Adam(field.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
    start = time.perf_counter()
    log = []
    for it in range(1, iters + 1):
        idx = torch.randint(0, n_points - window, (batch,), generator=gen)
        y0 = truth[idx]  # (batch, 2)
        target = torch.stack([truth[idx + k] for k in range(window)])  # (window, batch, 2)
        sol = solve_ode(field, y0, t[:window], method="dopri5", rtol=1e-5, atol=1e-7)
        loss = (sol.ys - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % max(1, iters // 8) == 0 or it == iters:
            log.append((it, loss.item(), sol.stats.nfe))
            print(f"  iter {it:4d}  window L1 {loss.item():.4f}  NFE {sol.stats.nfe}")
    train_s = time.perf_counter() - start

    with torch.no_grad():
        rollout = solve_ode(field, truth[:1], t, method="dopri5", rtol=1e-6, atol=1e-8)
        pred = rollout.ys[:, 0]
        f_true = (truth**3) @ SPIRAL.T
        field_err = (field(t, truth) - f_true).norm(dim=-1) / f_true.norm(dim=-1)
    return {"train_seconds": train_s, "final_window_l1": log[-1][1],
            "field_rel_error_median": field_err.median().item(),
            "field_rel_error_p90": field_err.quantile(0.9).item(),
            "rollout_nfe": rollout.stats.nfe, "figure": str(_plot(truth, pred, Path(out_dir)))}


def _plot(truth: torch.Tensor, pred: torch.Tensor, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(truth[:, 0], truth[:, 1], "k-", lw=2, label="true spiral")
    ax.plot(pred[:, 0], pred[:, 1], "r--", lw=1.5, label="neural ODE rollout")
    ax.set_xlabel("$y_1$")
    ax.set_ylabel("$y_2$")
    ax.legend(loc="lower left")
    ax.set_title("dy/dt = A y^3, learned from short windows")
    fig.tight_layout()
    path = out_dir / "quickstart.png"
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return path
