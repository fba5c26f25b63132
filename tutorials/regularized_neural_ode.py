"""Tutorial: make a neural ODE cheaper to solve by regularising the solver's own error
estimates (ERNODE, Pal et al. 2021) or one extra local step (Pal et al. 2023).

1. The task: map ``z0 ~ U[-1, 1]`` to ``z1 = z0 + z0^3`` by ``dz/dt = MLP([z, t])`` on
   [0, 1], Tsit5 at rtol = atol = 1e-8. Only the end state is data, so many vector
   fields fit, and they differ in how hard they are to integrate.
2. Train three copies from the same initialisation through the Trainer with
   :class:`sciml.nde.RegularizedObjective`: vanilla; global ``R_E = sum_j |h_j| E_j``
   (backpropagation through the solver); local ``E(t_s) h`` from one extra step
   (works with the adjoint, used here).
3. Plot the NFE over training, the learned vector fields with a few trajectories, and
   the step sizes the solver takes on the trained fields.

Run ``python tutorials/regularized_neural_ode.py [--quick] [--out DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

from sciml.nde import NeuralODE, RegularizedObjective
from sciml.train import Trainer

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "regularized_neural_ode")
DT = torch.float64
tol, epochs = (1e-6, 4) if args.quick else (1e-8, 40)

# %% [markdown]
# ## 1. Data and the vector field

# %%
g = torch.Generator().manual_seed(0)
z0 = 2 * torch.rand(256 * 25, 1, generator=g, dtype=DT) - 1
data = [{"x": a, "y": a + a ** 3} for a in z0]  # 25 batches of 256 per epoch


class Field(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, t, z):
        return self.net(torch.cat([z, torch.as_tensor(t, dtype=z.dtype).expand(z.shape[0], 1)], 1))


class EndState(nn.Module):
    """``x -> z(1)`` through a :class:`NeuralODE`."""

    def __init__(self, **ode_kwargs):
        super().__init__()
        torch.manual_seed(0)  # the same initial field for every variant
        self.ode = NeuralODE(Field().double(), rtol=tol, atol=tol, **ode_kwargs)
        self.register_buffer("t", torch.tensor([0.0, 1.0], dtype=DT))

    def forward(self, x):
        return self.ode(x, self.t)[-1]


def task(model, batch):
    return (model(batch["x"]) - batch["y"]).square().mean()


# %% [markdown]
# ## 2. Train vanilla, global and local
# lambda: 1e-3 for R_E, 1e3 for the local term (its step is sized by the cautious
# starting-step heuristic, so E h is small); see benchmarks/regularized_nde.py.

# %%
variants = {"vanilla": (dict(), 0.0), "global R_E": (dict(regularize="error"), 1e-3),
            "local (adjoint)": (dict(local="unbiased", adjoint=True), 1e3)}
models, histories = {}, {}
for name, (kwargs, lam) in variants.items():
    model = EndState(**kwargs)
    trainer = Trainer(model, objective=RegularizedObjective(task, lam), max_epochs=epochs, batch_size=256,
                      progress=False, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    histories[name] = trainer.fit(data)
    model.eval()
    x_test = torch.linspace(-1, 1, 1024, dtype=DT).view(-1, 1)
    with torch.no_grad():
        mse = float((model(x_test) - x_test - x_test ** 3).square().mean())
    models[name] = model
    print(f"{name:16s} test MSE {mse:.2e}  test NFE {model.ode.nfe}")

# %% [markdown]
# ## 3. NFE over training, vector fields, step sizes

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, history in histories.items():
    ax.plot([h["epoch"] for h in history], [h["train/nfe"] for h in history], label=name)
ax.set(xlabel="epoch", ylabel="NFE per forward pass (train)", title="Solver work during training")
ax.legend()
fig.tight_layout()
fig.savefig(out / "nde_nfe.png", dpi=120)

ts, zs = torch.linspace(0, 1, 41, dtype=DT), torch.linspace(-2, 2, 41, dtype=DT)
T, Z = torch.meshgrid(ts, zs, indexing="ij")
starts = torch.linspace(-1, 1, 9, dtype=DT).view(-1, 1)
fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.6), sharey=True, layout="constrained")
for ax, (name, model) in zip(axes, models.items()):
    with torch.no_grad():
        field = model.ode.func(T.reshape(-1, 1), Z.reshape(-1, 1)).reshape(T.shape)
        path = model.ode(starts, torch.linspace(0, 1, 50, dtype=DT))[..., 0]
    mesh = ax.pcolormesh(T, Z, field, cmap="RdBu_r", vmin=-6, vmax=6, shading="auto")
    ax.plot(torch.linspace(0, 1, 50), path, "k", lw=0.8)
    ax.set(title=name, xlabel="t")
axes[0].set_ylabel("z")
fig.colorbar(mesh, ax=axes, label="dz/dt")
fig.savefig(out / "nde_fields.png", dpi=120)

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, model in models.items():
    with torch.no_grad():
        model.ode(x_test, model.t)
    ends = [0.0] + list(model.ode.stats.step_ts)
    ax.step(ends[1:], torch.tensor(ends).diff(), where="pre", label=f"{name} ({len(ends) - 1} steps)")
ax.set(xlabel="t", ylabel="accepted step size h", yscale="log", title="Tsit5 steps on the trained fields")
ax.legend()
fig.tight_layout()
fig.savefig(out / "nde_steps.png", dpi=120)
print(f"figures in {out}")
