"""Tutorial: the Spectral-Refiner on forced 2-D turbulence.

1. Generate a small set of Navier–Stokes trajectories with ``problems.NavierStokes``
   (the FNO forcing, nu = 1e-3), solved at 64^2 and subsampled to 32^2 for training.
2. Train an SFNO (time is a Fourier axis: 10 frames in, 20 out) through the Trainer.
3. Predict a 64^2 test window zero-shot, then refine that one trajectory: only the
   output layer is trained, on the H^-1 norm of the Navier–Stokes residual, with no
   access to the true solution.
4. Plot vorticity (truth / prediction / refined / errors), the estimator and error
   during refinement, and the energy spectra of the errors before and after.

Run ``python tutorials/spectral_refiner.py [--quick] [--out DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from problems import NavierStokes
from sciml.operators import SFNO, TrajectoryWindows, refine, train_sfno

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "spectral_refiner", full_threads=2)

# %% [markdown]
# ## 1. Data: forced turbulence at nu = 1e-3, frames every 0.2 time units

# %%
if args.quick:
    solver_res, n_train, warmup, n_frames, epochs, t_out, iterations = 32, 8, 0.0, 31, 4, 10, 60
else:
    solver_res, n_train, warmup, n_frames, epochs, t_out, iterations = 64, 24, 2.0, 51, 5, 20, 200
dt_frames, t_in = 0.2, 10
problem = NavierStokes(resolution=solver_res, viscosity=1e-3, warmup=warmup, t_end=dt_frames * (n_frames - 1),
                       n_times=n_frames, dt=1e-3 * 64 / solver_res)
w = problem.solve(problem.sample_inputs(n_train + 1, torch.Generator().manual_seed(0)).double())
train_w, test_w = w[:n_train, :, ::2, ::2], w[n_train:]  # train at half resolution
print(f"{n_train} trajectories of {n_frames} frames, training at {solver_res // 2}^2, testing at {solver_res}^2")

# %% [markdown]
# ## 2. Stage 1: train the SFNO end to end

# %%
model = SFNO(modes=(8, 8, 5), width=12, latent_steps=10, out_steps=t_out)
trainer = train_sfno(model, TrajectoryWindows(train_w, t_in, t_out, stride=2), epochs=epochs, batch_size=4,
                     progress=False)
print("training loss per epoch:", ", ".join(f"{h['train/loss']:.3g}" for h in trainer.history))

# %% [markdown]
# ## 3. Stage 2: refine one test trajectory on the residual (zero-shot at 64^2)

# %%
x = test_w[:, None, 10:10 + t_in]  # (batch, channels = 1, T_in, s, s): the vorticity
truth = test_w[:, None, 10 + t_in:10 + t_in + t_out]
result = refine(model, x, problem, dt_frames, reference=truth, iterations=iterations,
                lr_bias=1e-4 if not args.quick else 2e-4)
s = result.summary()
print(f"eta {s['eta_before']:.2e} -> {s['eta_after']:.2e};  relative L2 error {s['error_before']:.2e} -> "
      f"{s['error_after']:.2e};  every frame improved: {s['worst_frame_ratio'] < 1}")

# %% [markdown]
# ## 4. Figures

# %%
frame = t_out - 1
fields = [truth[0, 0, frame], result.initial[0, 0, frame], result.refined[0, 0, frame],
          (result.initial - truth)[0, 0, frame], (result.refined - truth)[0, 0, frame]]
titles = ["truth", "SFNO", "SFNO + refine", "error before", "error after"]
fig, axes = plt.subplots(1, 5, figsize=(19, 3.8))
vmax = float(truth[0, 0, frame].abs().max())
emax = float(fields[3].abs().max())
for ax, field, title in zip(axes, fields, titles):
    limit = vmax if "error" not in title else emax
    im = ax.imshow(field.T.cpu(), origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit, extent=(0, 1, 0, 1))
    ax.set_title(f"{title} (t = +{dt_frames * (frame + 1):.1f})")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.tight_layout()
fig.savefig(out / "refiner_vorticity.png", dpi=110)

fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2))
steps = range(result.eta.shape[1])
a1.semilogy(steps, result.eta[0].cpu(), label="estimator eta (no truth used)")
a1.semilogy(steps, result.error[0].cpu(), label="relative L2 error to the solver")
a1.set_xlabel("Adam step")
a1.legend()
a1.set_title("refinement of one trajectory")
for label, field, style in (("truth", truth, "k-"), ("error before", result.initial - truth, "C1--"),
                            ("error after", result.refined - truth, "C2--")):
    k, spectrum = problem.energy_spectrum(field[0, 0])  # (T, s, s)
    band = k <= solver_res // 3  # the de-aliased modes
    a2.loglog(k[band].cpu(), spectrum.mean(0)[band].cpu(), style, label=label)
a2.set_xlabel("wavenumber |k|")
a2.set_ylabel("E(k), window mean")
a2.legend()
a2.set_title("energy spectra")
fig.tight_layout()
fig.savefig(out / "refiner_spectra.png", dpi=110)
print(f"figures in {out}")
