"""Tutorial: learn the dynamics of a cubic spiral with a neural ODE.

The true system is ``dy/dt = A y^3`` (elementwise cube) with ``A = [[-0.1, 2], [-2,
-0.1]]`` from ``y(0) = (2, 0)``, the classic neural-ODE demo. A small MLP vector field
is fitted to random short windows of one trajectory by backpropagating through the
adaptive dopri5 solver of ``sciml.solvers``; the learned model is then rolled out over
the whole time span. Run ``python tutorials/neural_ode_spiral.py [--quick] [--out DIR]``.
"""

# %%
import time

import matplotlib.pyplot as plt
import torch

from sciml.solvers import solve_ode

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "neural_ode_spiral", quick_help="a short run (about 10 s)",
                           out_help="folder for the figure", threads=None)
gen = torch.Generator().manual_seed(0)

# %% [markdown]
# ## 1. The data: one trajectory of the true system

# %%
SPIRAL = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
n_points, t_end = 200, 10.0
t = torch.linspace(0.0, t_end, n_points)
with torch.no_grad():
    truth = solve_ode(lambda t, y: (y**3) @ SPIRAL.T, torch.tensor([[2.0, 0.0]]), t, rtol=1e-7, atol=1e-9).ys[:, 0]


# %% [markdown]
# ## 2. The model: an MLP on cubed coordinates, trained through the solver

# %%
class CubicField(torch.nn.Module):
    def __init__(self, hidden: int = 50):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2))

    def forward(self, t, y):
        return self.net(y**3)


field = CubicField()
iters, window, batch = (150, 20, 16) if args.quick else (1000, 20, 32)
opt = torch.optim.Adam(field.parameters(), lr=1e-2)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
start = time.perf_counter()
for it in range(1, iters + 1):
    idx = torch.randint(0, n_points - window, (batch,), generator=gen)
    target = torch.stack([truth[idx + k] for k in range(window)])  # (window, batch, 2)
    sol = solve_ode(field, truth[idx], t[:window], method="dopri5", rtol=1e-5, atol=1e-7)
    loss = (sol.ys - target).abs().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if it % max(1, iters // 5) == 0:
        print(f"iter {it:4d}  window L1 {loss.item():.4f}  NFE {sol.stats.nfe}")
print(f"trained in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ## 3. Roll out the learned model and compare the vector fields

# %%
with torch.no_grad():
    pred = solve_ode(field, truth[:1], t, method="dopri5", rtol=1e-6, atol=1e-8).ys[:, 0]
    f_true = (truth**3) @ SPIRAL.T
    err = (field(t, truth) - f_true).norm(dim=-1) / f_true.norm(dim=-1)
print(f"learned field vs A y^3 on the trajectory: median relative error {err.median():.3f}")
assert err.median() < 0.2, "the quick run should already be within 20% of the true field"

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(truth[:, 0], truth[:, 1], "k-", lw=2, label="true spiral")
ax.plot(pred[:, 0], pred[:, 1], "r--", lw=1.5, label="neural ODE rollout")
ax.set_xlabel("$y_1$")
ax.set_ylabel("$y_2$")
ax.legend(loc="lower left")
ax.set_title("dy/dt = A y^3, learned from short windows")
fig.tight_layout()
fig.savefig(out / "spiral.png", dpi=120)
print(f"figure: {out / 'spiral.png'}")
