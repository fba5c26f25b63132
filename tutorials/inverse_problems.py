"""Tutorial: inverse problems through a differentiable solver or a trained surrogate.

1. Darcy flow: recover the permeability (two values, 3 and 12, on a random pattern) from
   the pressure at every second node. The unknown is written through the data's own
   Gaussian-random-field prior and a smooth threshold; the MAP estimate is found by
   L-BFGS with gradients from the solver's adjoint equation (``Darcy.solve`` is
   differentiable: one extra linear solve per gradient).
2. The same with a trained FNO as the forward map (the surrogate), then checked by the
   solver, and used as the starting point of a few solver iterations.
3. Navier–Stokes: recover the initial vorticity from a sparse snapshot at t = 1 by
   backpropagating through the solver's time steps.

Run ``python tutorials/inverse_problems.py [--quick] [--out DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from problems import Darcy, NavierStokes
from sciml.app import load, load_config, train
from sciml.pde import grf_from_noise
from sciml.sim import grid_observation, invert

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "inverse_problems", out_help="folder for data and figures", full_threads=2)
iters = 40 if args.quick else 200

# %% [markdown]
# ## 1. Darcy: the coefficient from sparse pressure data, through the solver
# Prior: `psi = C^(1/2) z` with `z ~ N(0, I)` and the covariance of the data generator, and
# `a = 3 + 9 sigmoid(psi / 0.1)`, a smoothed version of the generator's threshold.

# %%
s = 32
darcy = Darcy(resolution=s, tol=1e-8)
g = torch.Generator().manual_seed(0)
truth = darcy.sample_inputs(1, generator=g).double()
observe = grid_observation(2, 1)
noise = 1e-4  # about 1% of the largest pressure
y = observe(darcy.solve(truth))
y = y + noise * torch.randn(y.shape, generator=g, dtype=y.dtype)
print(f"{y.numel()} observations of u for {s * s} unknowns")


def to_coefficient(z):
    psi = grf_from_noise(z, (s, s), 2.0, 3.0, boundary="neumann", zero_mean=True)
    return 3.0 + 9.0 * torch.sigmoid(psi / 0.1)


z0 = torch.zeros(1, s, s, dtype=torch.float64)
options = {"observe": observe, "transform": to_coefficient, "noise_std": noise, "truth": truth,
           "optimizer": "lbfgs", "lr": 1.0, "steps": iters}
by_solver = invert(darcy.solve, y, z0, **options)
print(f"solver: relative L2 error of a {by_solver.error:.3f} in {by_solver.wall_time:.1f} s "
      f"({by_solver.evaluations} solves + adjoints; L-BFGS stopped on {by_solver.stop_reason})")

# %% [markdown]
# ## 2. The same through a trained surrogate
# An FNO learns `a -> u` from solver samples; its gradient replaces the adjoint solve.
# A surrogate estimate is only as good as the surrogate: the solver tells how well it
# really fits the data, and a few solver iterations from it finish the job.

# %%
n_train, epochs = (128, 3) if args.quick else (1000, 30)
data = darcy.generate(n_train, out / "darcy32.h5", seed=1, progress=False)
train(load_config(None, base={
    "out_dir": str(out / "darcy_fno"),
    "data": {"format": "h5", "train": str(data), "normalize_inputs": "pointwise", "normalize_outputs": "scalar"},
    "model": {"name": "fno", "n_modes": [12, 12], "hidden_channels": 32},
    "optimizer": {"name": "adam", "lr": 3e-3, "weight_decay": 1e-4}, "scheduler": {"name": "cosine"},
    "trainer": {"max_epochs": epochs, "batch_size": 20, "progress": False}}))
surrogate = load(out / "darcy_fno" / "latest.pt")


def through_surrogate(a):
    return surrogate(a.float().unsqueeze(1))[:, 0].to(a.dtype)


by_surrogate = invert(through_surrogate, y, z0, **options)
finished = invert(darcy.solve, y, by_surrogate.latent, **{**options, "steps": iters // 4})


def true_misfit(a):
    with torch.no_grad():
        return float((observe(darcy.solve(a)) - y).norm() / y.norm())


for name, r, seconds in (("solver", by_solver, by_solver.wall_time),
                         ("surrogate", by_surrogate, by_surrogate.wall_time),
                         ("surrogate, then solver", finished, by_surrogate.wall_time + finished.wall_time)):
    print(f"{name:<24} error of a {r.error:.3f}   data misfit by the solver {true_misfit(r.estimate):.2e}   "
          f"{seconds:.1f} s")

# %%
fig, axes = plt.subplots(1, 5, figsize=(19, 3.8))
panels = [("true a", truth[0]), ("solver estimate", by_solver.estimate[0]),
          ("surrogate estimate", by_surrogate.estimate[0]), ("surrogate, then solver", finished.estimate[0])]
for ax, (title, field) in zip(axes, panels):
    ax.imshow(field.numpy(), vmin=3, vmax=12, cmap="viridis")
    ax.set(title=title, xticks=[], yticks=[])
axes[0].plot(*torch.meshgrid(torch.arange(1, s, 2), torch.arange(1, s, 2), indexing="xy"), "w.", ms=1.5)
axes[4].plot(by_solver.history["error"], label="solver")
axes[4].plot(by_surrogate.history["error"], label="surrogate")
axes[4].set(xlabel="evaluation", ylabel="relative L2 error of a", title="convergence")
axes[4].legend()
fig.tight_layout()
fig.savefig(out / "darcy_inverse.png", dpi=110)

# %% [markdown]
# ## 3. Navier–Stokes: the initial vorticity from a sparse snapshot
# The solver's stepper is differentiable, so the gradient comes from backpropagation through
# its 200 time steps. The prior is that of the initial conditions.

# %%
ns_s = 32 if args.quick else 64
ns = NavierStokes(resolution=ns_s, t_end=1.0, n_times=2, dt=5e-3)
step = ns.solver_stepper()
prior = (ns.alpha, ns.tau, ns.tau ** (ns.alpha - 1))


def to_vorticity(z):
    return grf_from_noise(z, (ns_s, ns_s), *prior, zero_mean=True)


def forward(w0):
    return step(w0.unsqueeze(1))[:, 0]


g = torch.Generator().manual_seed(4)
w_true = to_vorticity(torch.randn(1, ns_s, ns_s, generator=g, dtype=torch.float64))
observe_ns = grid_observation(4, 2)
with torch.no_grad():
    y_ns = observe_ns(forward(w_true))
y_ns = y_ns + 0.01 * torch.randn(y_ns.shape, generator=g, dtype=y_ns.dtype)
recovered = invert(forward, y_ns, torch.zeros(1, ns_s, ns_s, dtype=torch.float64), observe=observe_ns,
                   transform=to_vorticity, noise_std=0.01, truth=w_true, optimizer="lbfgs", lr=1.0,
                   steps=iters // 2)
print(f"Navier-Stokes: {y_ns.numel()} observations at t = 1; initial vorticity recovered to a relative L2 error "
      f"of {recovered.error:.3f} in {recovered.wall_time:.1f} s")

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
limit = float(w_true.abs().max())
for ax, (title, field) in zip(axes, [("true w(0)", w_true[0]), ("recovered w(0)", recovered.estimate[0]),
                                     ("error", recovered.estimate[0] - w_true[0])]):
    ax.imshow(field.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set(title=title, xticks=[], yticks=[])
fig.tight_layout()
fig.savefig(out / "ns_inverse.png", dpi=110)
