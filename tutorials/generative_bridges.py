"""Tutorial: generative dynamics — stochastic interpolants and Schrödinger bridges.

1. Stochastic interpolants: learn the velocity ``b`` and the denoiser ``eta`` of the
   interpolant ``x_t = (1 - t) x0 + t x1 + sqrt(t (1 - t)) z`` between 8 Gaussians and
   two moons, with minibatch-OT pairs; sample by the probability-flow ODE and by the
   SDE ``dX = [b + eps s] dt + sqrt(2 eps) dW`` (``s = -eta / gamma``); measure W2 and
   plot the trajectories.
2. Multi-marginal Schrödinger bridge: snapshots of an Ornstein–Uhlenbeck population
   (no particle is followed across times); the bridge starts from a Brownian reference
   and refits an affine drift to its own trajectories until it settles. Plot the inferred
   trajectories and the learned drift field against the true one.

Run it as a script (``python tutorials/generative_bridges.py [--quick] [--out DIR]``) or
cell by cell; figures go to ``--out``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from problems import OUPopulation
from problems.toy2d import eight_gaussians, moons
from sciml.generative import (Interpolant, MultiMarginalBridge, VelocityField, couple, denoiser_loss,
                              fit_pairs, sample_ode, sample_sde, velocity_loss, wasserstein)

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "generative_bridges", quick_help="fewer steps and samples (CI)")

# %% [markdown]
# ## 1. An interpolant between 8 Gaussians and moons
# Two MLPs (3 x 64, SELU) on ``[x, t]``: ``b`` regressed on ``x1 - x0 + gamma' z`` (with
# antithetic pairs, since ``gamma'`` is singular at the ends) and ``eta`` on ``z``. Each
# batch is re-paired by the exact OT plan (``couple(..., "exact")``), which straightens the
# paths. ``fit_pairs`` trains through the Trainer: every step's samples come from
# ``(seed, step)``, so the run is reproducible and resumable.

# %%
steps = 400 if args.quick else 5000
interpolant = Interpolant("linear", "sqrt")


class Fields(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.b, self.eta = VelocityField(2), VelocityField(2)


def loss(model, x0, x1, g):
    x1 = couple(x0, x1, "exact", generator=g)
    return velocity_loss(model.b, interpolant, x0, x1, generator=g) + denoiser_loss(model.eta, interpolant, x0, x1,
                                                                                     generator=g)


fields = Fields()
fit_pairs(fields, loss, eight_gaussians, moons, steps=steps, batch_size=256, lr=1e-3)

g = torch.Generator().manual_seed(1)
n = 500 if args.quick else 2000
x0, test = eight_gaussians(n, g), moons(n, g)
times = torch.linspace(0, 1, 21).tolist()
with torch.no_grad():
    ode_path = sample_ode(fields.b, x0, steps=100, method="heun", times=times)
    sde_times = torch.linspace(1e-4, 1 - 1e-4, 21).tolist()
    sde_path = sample_sde(fields.b, x0, eps=0.5, eta=fields.eta, gamma=lambda t: interpolant.coefficients(t)[2],
                          steps=400, seed=0, times=sde_times)
floor = wasserstein(moons(n, g), test)
w2_ode, w2_sde = wasserstein(ode_path[-1], test), wasserstein(sde_path[-1], test)
print(f"W2 to held-out moons: ODE {w2_ode:.3f}, SDE (eps = 0.5) {w2_sde:.3f}; two moons samples: {floor:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
for ax, path, name, w2 in ((axes[0], ode_path, "probability-flow ODE", w2_ode), (axes[1], sde_path, "SDE, eps = 0.5",
                                                                                  w2_sde)):
    for i in range(min(n, 150)):
        ax.plot(path[:, i, 0], path[:, i, 1], color="0.6", lw=0.4, alpha=0.6)
    ax.scatter(*path[0].T, s=3, c="tab:blue", label="x0: 8 Gaussians")
    ax.scatter(*path[-1].T, s=3, c="tab:red", label="generated")
    ax.set_title(f"{name}: W2 {w2:.3f} (floor {floor:.3f})")
axes[0].legend(loc="lower left", markerscale=4)
fig.tight_layout()
fig.savefig(out / "interpolant_trajectories.png", dpi=110)

# %% [markdown]
# ## 2. A multi-marginal bridge that learns its reference
# Snapshots at t = 0, ..., 6 of ``dX = A X dt + 0.3 dW`` with ``A = [[-0.3, -1], [1, -0.3]]``,
# each from its own particles. The Q-step couples adjacent snapshots by the static
# Schrödinger bridge of the current reference (Sinkhorn with its log transition density);
# the theta-step draws trajectories through all snapshots, fills them with reference
# bridges and refits the drift by Euler–Maruyama maximum likelihood.

# %%
problem = OUPopulation()
snap_times, snapshots = problem.snapshots(150 if args.quick else 400, seed=0)
bridge = MultiMarginalBridge(snap_times, snapshots, sigma=0.3, intercept=False)
truth = problem.reference.A
bridge.fit(iterations=3 if args.quick else 6, tol=1e-3,
           callback=lambda r: print(f"iteration {r['iteration']}: |A - A*| / |A*| = "
                                    f"{float((r['A'] - truth).norm() / truth.norm()):.3f}, "
                                    f"objective {r['objective']:.2f}"))
error = float((bridge.reference.A - truth).norm() / truth.norm())
print(f"refined drift A = {bridge.reference.A.numpy().round(3).tolist()}; relative error {error:.3f}")

paths, fine = bridge.trajectories(bridge.plans, bridge.reference)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for i in range(0, paths.shape[0], max(1, paths.shape[0] // 80)):
    axes[0].plot(paths[i, :, 0], paths[i, :, 1], color="0.55", lw=0.4, alpha=0.6)
for k, x in enumerate(snapshots):
    axes[0].scatter(*x.T, s=3, color=plt.cm.viridis(k / (len(snapshots) - 1)), label=f"t = {k}")
axes[0].set_title("snapshots and inferred trajectories")
axes[0].legend(fontsize=7, markerscale=3, loc="upper right")
grid = torch.stack(torch.meshgrid(torch.linspace(-2.5, 2.5, 15), torch.linspace(-2.5, 2.5, 15), indexing="xy"),
                   -1).reshape(-1, 2).to(torch.float64)
true_field, learned = problem.reference.drift(grid), bridge.reference.drift(grid)
axes[1].quiver(*grid.T, *true_field.T, color="0.3", label="true drift", angles="xy")
axes[1].quiver(*grid.T, *learned.T, color="tab:red", alpha=0.7, label="learned reference", angles="xy")
axes[1].set_title(f"reference drift after refinement (error {error:.3f})")
axes[1].legend(loc="upper right")
fig.tight_layout()
fig.savefig(out / "bridge_trajectories.png", dpi=110)
