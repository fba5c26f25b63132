"""Tutorial: plug a trained operator into your simulation.

1. Generate Navier–Stokes trajectories with the built-in solver and train an FNO time
   stepper ``w(t) -> w(t + 1)`` with ``sciml train``'s machinery (``data.step_lag``).
2. Load the checkpoint as a stepper (``sciml.app.load_stepper``): it is interchangeable
   with the solver's own stepper (``problem.solver_stepper()``).
3. Roll out the solver, the operator, and two hybrids from unseen initial conditions:
   a coarse solver step with a learned correction, and parareal (the operator's
   prediction refined by the solver). Errors to a fine reference, energy and spectra are
   recorded by ``Simulation`` as it runs.
4. Export the operator (`torch.export`) and drive it from a plain loop that needs only torch.

Run ``python tutorials/operator_in_simulation.py [--quick] [--out DIR]``. The command-line
equivalent of step 3 is ``sciml simulate configs/simulate_ns.yaml``.
"""

# %%
import h5py
import matplotlib.pyplot as plt
import torch

from problems import NavierStokes
from sciml.app import load, load_config, load_stepper, train
from sciml.data import write_fields
from sciml.sim import (CorrectedStepper, ResampledStepper, Simulation, correction_pairs, export_model,
                       flow_diagnostics, parareal)

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "operator_in_simulation", out_help="folder for data and figures", full_threads=2)

# %% [markdown]
# ## 1. Data and a trained stepper
# Trajectories of 10 time units, one frame per unit; every consecutive pair of frames is a
# training example. `train` is what `sciml train CONFIG` runs; the checkpoint records the
# configuration and the time between the paired frames.

# %%
s, coarse_s = (32, 16) if args.quick else (64, 32)
n_traj, epochs, T = (8, 3, 6) if args.quick else (60, 20, 10)
problem = NavierStokes(resolution=s, t_end=T, n_times=T + 1, dt=5e-3)
data = problem.generate(n_traj, out / f"ns{s}.h5", seed=0, progress=False)


def run_config(name, train_file, normalize_outputs="none", modes=None, lr=3e-3, weight_decay=1e-4, batch_size=20,
               **data_options):
    modes = modes or (12 if not args.quick else 8)
    return load_config(None, base={
        "out_dir": str(out / name),
        "data": {"format": "h5", "train": str(train_file), "val_fraction": 0.1, "normalize_inputs": "none",
                 "normalize_outputs": normalize_outputs, **data_options},
        "model": {"name": "fno", "n_modes": [modes, modes], "hidden_channels": 32 if not args.quick else 12},
        "optimizer": {"name": "adam", "lr": lr, "weight_decay": weight_decay}, "scheduler": {"name": "cosine"},
        "trainer": {"max_epochs": epochs, "batch_size": batch_size, "progress": False}})


history = train(run_config("stepper", data, step_lag=1))
print(f"operator trained {len(history)} epochs, validation relative L2 of one step {history[-1]['val/l2']:.3f}")
operator = load_stepper(out / "stepper" / "latest.pt")
print(f"loaded {operator.name} stepper, dt = {operator.dt}")

# %% [markdown]
# ## 2. A hybrid: a coarse solver step plus a learned correction
# The coarse solver runs on a grid of half the resolution (`ResampledStepper` restricts and
# interpolates in Fourier space); the correction network learns what it misses, from the
# same trajectories. The correction lives in the modes the coarse grid lacks, so the FNO
# keeps modes up to s/4; without weight decay and with a smaller learning rate, because
# the zero correction is a plateau of the relative loss that weight decay holds it on.

# %%
coarse = ResampledStepper(NavierStokes(resolution=coarse_s, t_end=T, n_times=T + 1, dt=5e-3).solver_stepper(),
                          (coarse_s, coarse_s))
with h5py.File(data) as f:
    paths = torch.from_numpy(f["outputs"][()]).double()
stepped, targets = correction_pairs(coarse, paths)  # inputs: the coarse step; targets: what it misses
pairs = write_fields(out / "corrections.h5", stepped[:, 0].float(), targets[:, 0].float(),
                     grid={k: v for k, v in problem.grid().items() if k in ("x", "y")})
train(run_config("correction", pairs, normalize_outputs="scalar", modes=s // 2, lr=1e-3, weight_decay=0.0,
                 batch_size=10))
correction = load(out / "correction" / "latest.pt")
hybrid = CorrectedStepper(coarse, correction, name="coarse solver + correction")

# %% [markdown]
# ## 3. Rollouts from unseen initial conditions
# The reference is the solver on a grid twice as fine; every stepper runs on the s x s grid.

# %%
fine = NavierStokes(resolution=s, solver_resolution=2 * s, t_end=T, n_times=T + 1, dt=2.5e-3)
w0_fine = fine.sample_inputs(4, generator=torch.Generator().manual_seed(123)).double()
w0 = w0_fine[:, ::2, ::2].unsqueeze(1)
reference = Simulation(fine.solver_stepper()).run(w0_fine.unsqueeze(1), T).states[..., ::2, ::2]
diagnostics = flow_diagnostics(problem)
steppers = {"solver": problem.solver_stepper(), "operator": operator, "coarse solver": coarse, "hybrid": hybrid}
rollouts = {name: Simulation(stepper, diagnostics).run(w0, T, reference=reference) for name, stepper in steppers.items()}
for r in rollouts.values():
    print(r.summary())
refined = parareal(operator, problem.solver_stepper(), w0, T, tol=1e-6)
print(f"parareal: {refined.iterations} iterations to a relative change of {refined.changes[-1]:.1e} "
      f"(changes {', '.join(f'{c:.1e}' for c in refined.changes)})")

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for name, r in rollouts.items():
    axes[0].semilogy(r.times[1:], r.diagnostics["error"][1:].mean(1), "o-", label=name)
    axes[1].plot(r.times, r.diagnostics["energy"].mean(1), label=name)
k = torch.arange(1, reference.shape[-1] // 2 + 1)
ref_spectrum = problem.energy_spectrum(reference[-1, :, 0])[1].mean(0)
axes[2].loglog(k[:len(ref_spectrum)], ref_spectrum[:len(k)], "k-", lw=3, alpha=0.4, label="reference")
for name, r in rollouts.items():
    spectrum = r.diagnostics["spectrum"][-1].mean(0)
    axes[2].loglog(k[:len(spectrum)], spectrum[:len(k)].clamp_min(1e-16), label=name)
axes[0].set(xlabel="t", ylabel="relative L2 error", title="error to the fine solver")
axes[1].set(xlabel="t", ylabel="kinetic energy", title="energy")
axes[2].set(xlabel="k", ylabel="E(k)", title=f"energy spectrum at t = {T}", ylim=(1e-14, None))
for ax in axes:
    ax.legend()
fig.tight_layout()
fig.savefig(out / "rollout_errors.png", dpi=110)

fig, axes = plt.subplots(1, 4, figsize=(16, 4))
panels = [("reference", reference[-1, 0, 0]), ("operator", rollouts["operator"].states[-1, 0, 0]),
          ("hybrid", rollouts["hybrid"].states[-1, 0, 0]), ("parareal", refined.states[-1, 0, 0])]
for ax, (title, field) in zip(axes, panels):
    ax.imshow(field.numpy(), cmap="RdBu_r")
    ax.set(title=f"{title}, t = {T}", xticks=[], yticks=[])
fig.tight_layout()
fig.savefig(out / "rollout_fields.png", dpi=110)

# %% [markdown]
# ## 4. Outside Python training code
# The exported program needs torch only (`torch.export.load`; AOTInductor compiles it for
# C++). The export is checked against the eager model before it is written. neuraloperator's
# FNO fixes the batch size under torch.export, so the program steps batches of 4.

# %%
import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the batch-specialisation notice
    path = export_model(operator.model, w0.float(), out / "ns_stepper")
step = torch.export.load(str(path)).module()
u = w0.float()
with torch.no_grad():
    for _ in range(T):  # a plain time-stepping loop
        u = step(u)
gap = float((u.double() - rollouts["operator"].states[-1]).abs().max())
print(f"exported to {path}; plain loop vs Simulation after {T} steps: max difference {gap:.1e}")
assert gap < 1e-5
