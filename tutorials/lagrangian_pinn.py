"""Tutorial: why a PINN fails on fast convection, and how the Lagrangian PINN fixes it.

1. Define the problem ``u_t + beta u_x = 0``, ``u0 = sin x`` on ``[0, 2 pi)`` with
   ``problems.Convection`` (exact solution ``sin(x - beta t)``), ``beta = 30``.
2. Train an Eulerian PINN (periodic embedding, PDE residual from the problem's
   ``residual``, initial-condition loss) and a Lagrangian PINN (two networks: the state
   carried along characteristics and the characteristics themselves) with the same
   optimiser and budget, through ``sciml.pinn.fit`` (Adam; per-term losses logged).
3. Plot both solutions and their errors, the learned characteristics ``X(xi, t)``, and
   the loss curves per term.

Run ``python tutorials/lagrangian_pinn.py [--quick] [--out DIR]``.
"""

# %%
import math

import matplotlib.pyplot as plt
import torch

from problems import Convection
from sciml.pinn import EulerianPINN, LagrangianPINN, fit, grid, relative_frobenius, uniform

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "lagrangian_pinn")
TWO_PI = 2 * math.pi

# %% [markdown]
# ## 1. The problem and its exact solution on a 256 x 100 grid

# %%
beta, steps = 30.0, (400 if args.quick else 3000)
problem = Convection(beta=beta, resolution=256, n_times=100)
x = torch.arange(256, dtype=torch.float64) * TWO_PI / 256
t = problem.times()
exact = problem.solve(torch.sin(x)[None])[0]  # (100, 256)

# %% [markdown]
# ## 2. Eulerian PINN and Lagrangian PINN, same optimiser and budget

# %%
torch.manual_seed(0)
pinn = EulerianPINN(lambda u, u_t, u_x, u_xx: problem.residual(u_t, u_x, u_xx), width=32, depth=3)
points = {"interior": uniform([(0.0, TWO_PI), (0.0, 1.0)], 1280, generator=0),
          "initial": torch.linspace(0, TWO_PI, 64)[:-1, None]}
pinn_fit = fit(pinn, pinn.terms(torch.sin, initial_weight=100.0), points, adam_steps=steps, lr=1e-2, amsgrad=True)

torch.manual_seed(0)
lpinn = LagrangianPINN(speed=beta, width_u=32, depth_u=3, width_x=32, depth_x=2)
terms, norm = lpinn.terms(torch.sin, preset="mse")
points = {"interior": grid([(0.0, TWO_PI), (0.0, 1.0)], (64, 20), endpoint=(False, True)),
          "initial": torch.linspace(0, TWO_PI, 64)[:-1, None]}
lpinn_fit = fit(lpinn, terms, points, adam_steps=steps, lr=1e-2, amsgrad=True, norm=norm)

u_pinn = pinn.predict(x.float(), t.float()).double()
u_lpinn = lpinn.eulerian(x.float(), t.float(), x.float())
for name, u, result in (("Eulerian PINN", u_pinn, pinn_fit), ("Lagrangian PINN", u_lpinn, lpinn_fit)):
    print(f"{name:16s} relative L2 (Frobenius, 256 x 100) {relative_frobenius(u, exact):.3e}  "
          f"final loss {result.final['train/loss']:.2e}  ({result.seconds:.0f} s)")

# %% [markdown]
# ## 3. Solutions, errors, characteristics and loss curves

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 8))
extent = (0, 1, 0, TWO_PI)
for ax, field, title in ((axes[0, 0], exact, "exact sin(x - 30 t)"), (axes[0, 1], u_pinn, "Eulerian PINN"),
                         (axes[0, 2], u_lpinn, "Lagrangian PINN"),
                         (axes[1, 1], (u_pinn - exact).abs(), "|error| Eulerian"),
                         (axes[1, 2], (u_lpinn - exact).abs(), "|error| Lagrangian")):
    im = ax.imshow(field.T, origin="lower", aspect="auto", extent=extent, cmap="RdBu_r" if "error" not in title
                   else "magma")
    ax.set_title(title)
    ax.set_xlabel("t")
    ax.set_ylabel("x")
    fig.colorbar(im, ax=ax)
ax = axes[1, 0]
labels = torch.linspace(0, TWO_PI, 7)[:-1]
fine_t = torch.linspace(0, 1, 1000)
coords = torch.stack([labels.repeat(len(fine_t)), fine_t.repeat_interleave(len(labels))], 1)
with torch.no_grad():
    _, X = lpinn(coords)
wrapped = torch.remainder(X.reshape(len(fine_t), len(labels)), TWO_PI)
wrapped[1:][(wrapped[1:] - wrapped[:-1]).abs() > math.pi] = float("nan")  # break the line where it wraps
for j in range(len(labels)):
    ax.plot(fine_t, wrapped[:, j], lw=1)
ax.set_title("learned characteristics X(xi, t) mod 2 pi")
ax.set_xlabel("t")
ax.set_ylabel("x")
fig.tight_layout()
fig.savefig(out / "lpinn_solutions.png", dpi=110)

fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
for ax, result, title in ((a1, pinn_fit, "Eulerian PINN"), (a2, lpinn_fit, "Lagrangian PINN")):
    for key in result.final:
        if key.startswith("train/") and key != "train/loss":
            ax.semilogy([h[key] for h in result.history], label=key[6:])
    ax.set_title(f"{title}: weighted loss terms")
    ax.set_xlabel("Adam step")
    ax.legend()
fig.tight_layout()
fig.savefig(out / "lpinn_losses.png", dpi=110)
print(f"figures in {out}")
