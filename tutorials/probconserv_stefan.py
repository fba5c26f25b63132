"""Tutorial: exact conservation for a probabilistic model on the Stefan problem.

1. Sample context/target sets of the Stefan problem (``problems.Stefan``: a degenerate
   diffusion whose solution jumps to 0 at a moving front) for u* ~ U[0.55, 0.7].
2. Train an Attentive Neural Process through the Trainer.
3. Predict one function from its context, with and without ProbConserv (the Gaussian
   update onto ``int u dx = b(t)`` at every time), and compare the mean, the uncertainty
   band, the conservation error over time and the posterior front position.

Run ``python tutorials/probconserv_stefan.py [--quick] [--out DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from problems import Stefan
from sciml.conserve import (AttentiveNP, ConservationConstraint, ContextTargetSet, conservation_error,
                            exact_values, predict, shock_positions, train_anp)

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "probconserv_stefan", full_threads=2)

# %% [markdown]
# ## 1. Data and 2. the ANP

# %%
problem = Stefan()
n_train, epochs, hidden, samples = (200, 3, 32, 10) if args.quick else (1000, 40, 64, 50)
torch.manual_seed(0)
model = AttentiveNP(hidden=hidden, latent=hidden, dropout=0.0)
trainer = train_anp(model, ContextTargetSet(problem, n_train, seed=0), epochs=epochs, batch_size=50, lr=1e-3,
                    progress=False)
print("negative ELBO per epoch:", ", ".join(f"{h['train/loss']:.1f}" for h in trainer.history))
model.eval()

# %% [markdown]
# ## 3. One test function (u* = 0.6), with and without ProbConserv

# %%
u_star = 0.6
item = ContextTargetSet(problem, 1, seed=11, params=torch.tensor([u_star]))[0]
constraint = ConservationConstraint(lambda t: problem.mass(torch.tensor([u_star]), t)[0])
x = torch.linspace(0, 1, 201, dtype=torch.float64)
t = torch.linspace(0.005, 0.1, 20, dtype=torch.float64)
truth = exact_values(problem, torch.tensor([[u_star]]),
                     torch.stack(torch.meshgrid(t, x, indexing="ij"), -1).reshape(1, -1, 2))[0, :, 0].reshape(20, 201)
preds = {mode: predict(model, item["xc"], item["yc"], t, x, mode=mode, constraint=constraint, n_samples=samples,
                       full_covariance=True) for mode in ("anp", "probconserv")}
b = constraint.rhs(t)[:, 0]
for mode, p in preds.items():
    ce = conservation_error(p.mean, x, b)
    print(f"{mode:12s} MSE {float((p.mean - truth).square().mean()):.3e}   max |CE| over t {float(ce.abs().max()):.2e}")

# %% [markdown]
# ## 4. Figures: mean and band at t = 0.05, conservation error over time, front position

# %%
k = int((t - 0.05).abs().argmin())
_, alpha, _ = problem.constants(torch.tensor([u_star]))
front = float(alpha[0] * t[k].sqrt())
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
ax = axes[0]
ax.plot(x, truth[k], "k", lw=2, label="exact")
for (mode, p), color in zip(preds.items(), ("C0", "C1")):
    sd = p.var[k].sqrt()
    ax.plot(x, p.mean[k], color=color, label=mode)
    ax.fill_between(x, p.mean[k] - 2 * sd, p.mean[k] + 2 * sd, color=color, alpha=0.2)
ax.set_title(f"u(x, t = {float(t[k]):.3f}), u* = {u_star}: mean +- 2 sd")
ax.set_xlabel("x")
ax.legend()
ax = axes[1]
for (mode, p), color in zip(preds.items(), ("C0", "C1")):
    ax.plot(t, conservation_error(p.mean, x, b).abs().clamp_min(1e-18), color=color, marker="o", label=mode)
ax.set_yscale("log")
ax.set_title("|conservation error| = |int mean dx - b(t)|")
ax.set_xlabel("t")
ax.legend()
ax = axes[2]
for (mode, p), color in zip(preds.items(), ("C0", "C1")):
    pos = shock_positions(p.mean[k], p.cov[k], x, n_samples=500)
    ax.hist(pos.numpy(), bins=30, alpha=0.6, color=color, label=f"{mode}: {pos.mean():.3f} +- {pos.std():.3f}")
ax.axvline(front, color="k", ls="--", label=f"true front {front:.3f}")
ax.set_title("front position from posterior draws")
ax.set_xlabel("x")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out / "probconserv_stefan.png", dpi=110)
print(f"figure in {out}")
