"""Tutorial: a latent SDE driven by fractional noise learns the Hurst index of
long-memory data.

1. Data: exact paths of a fractional Ornstein–Uhlenbeck process
   ``dX = -X dt + dB^H`` with ``H* = 0.7`` (positively correlated increments), drawn from
   the exact covariance (:func:`sciml.nde.fractional_ou_covariance`), observed with
   small noise at 100 times on [0, 1].
2. Two :class:`sciml.nde.LatentFractionalSDE` models through the Trainer: the Hurst
   index learned from 0.5 (MA-fBM, type II, K = 5), and Brownian noise (H fixed 0.5).
   Each has a learnable OU prior (theta, sigma), a posterior control fed by a backward
   GRU's context, and the ELBO (Gaussian likelihood - Girsanov KL).
3. Plots: H during training, posterior paths for a held-out series, prior samples of
   both models beside the data, and the held-out ELBO of both.

Run ``python tutorials/fractional_latent_sde.py [--quick] [--out DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from sciml.nde import ConstantDiffusion, LatentFractionalSDE, LinearDrift, fractional_ou_covariance
from sciml.train import Trainer

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "fractional_latent_sde")
DT = torch.float64
points, epochs = (40, 3) if args.quick else (100, 40)

# %% [markdown]
# ## 1. Long-memory data from the exact fOU covariance

# %%
H_TRUE = 0.7
ts = torch.linspace(0, 1, points, dtype=DT)
factor = torch.linalg.cholesky(fractional_ou_covariance(ts, 1.0, H_TRUE, "II", refine=10)[1:, 1:])


def paths(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.zeros(n, 1, dtype=DT), torch.randn(n, points - 1, generator=g, dtype=DT) @ factor.T], 1)
    return (x + 0.01 * torch.randn(n, points, generator=g, dtype=DT)).unsqueeze(-1)


train, held_out = paths(64, 0), paths(64, 1)
data = [{"x": y} for y in train]

# %% [markdown]
# ## 2. Fractional (learned H) and Brownian (H = 0.5) latent SDEs

# %%
models, histories = {}, {}
for name, learn in (("fractional", True), ("Brownian", False)):
    torch.manual_seed(0)
    model = LatentFractionalSDE(1, 1, hidden=32, context_dim=8, drift=LinearDrift(1, 0.5),
                                diffusion=ConstantDiffusion(1, 1.0), hurst=0.5, learn_hurst=learn, kind="II",
                                dt=0.02, decoder="identity", obs_std=0.01, learn_x0=False).double()
    trainer = Trainer(model, objective=lambda m, b: m.loss(b["x"], ts), max_epochs=epochs, batch_size=32,
                      progress=False, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    histories[name] = trainer.fit(data)
    model.eval()
    with torch.no_grad():
        elbo = -sum(float(model.loss(held_out, ts, seed=s)[0]) for s in range(4)) / 4
    models[name] = model
    print(f"{name:10s} H = {model.hurst.item():.3f}  theta = {model.sde.drift.theta.item():.3f}  "
          f"held-out ELBO per path {elbo:.1f}")

# %% [markdown]
# ## 3. Figures

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot([h["epoch"] for h in histories["fractional"]], [h["train/hurst"] for h in histories["fractional"]],
        label="learned H")
ax.axhline(H_TRUE, color="k", ls="--", label="H* = 0.7")
ax.axhline(0.5, color="gray", ls=":", label="Brownian")
ax.set(xlabel="epoch", ylabel="H", title="Hurst index during training")
ax.legend()
fig.tight_layout()
fig.savefig(out / "fractional_hurst.png", dpi=120)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
series = held_out[:1].expand(64, -1, -1)
for ax, (name, model) in zip(axes[:2], models.items()):
    with torch.no_grad():
        post = model(series, ts, seed=3)[0][..., 0]
    mean, std = post.mean(0), post.std(0)
    ax.fill_between(ts, mean - 2 * std, mean + 2 * std, alpha=0.3, label="posterior +- 2 std")
    ax.plot(ts, post[:3].T, lw=0.6, color="C0")
    ax.plot(ts, held_out[0, :, 0], "k.", ms=3, label="observations")
    ax.set(title=f"{name}: posterior paths", xlabel="t")
    ax.legend(fontsize=7)
ax = axes[2]
ax.plot(ts, held_out[:5, :, 0].T, color="k", lw=0.7)
for name, color in (("fractional", "C0"), ("Brownian", "C3")):
    ax.plot(ts, models[name].sample_prior(5, ts, seed=2)[..., 0].T, color=color, lw=0.7, alpha=0.8)
ax.set(title="data (black); prior draws: fractional (blue), Brownian (red)", xlabel="t")
ax.title.set_fontsize(9)
fig.savefig(out / "fractional_paths.png", dpi=120)
print(f"figures in {out}")
