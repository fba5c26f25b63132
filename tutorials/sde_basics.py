"""Tutorial: stochastic differential equations on the sciml core.

1. Fit an SDE to sample paths: the drift and diffusion of an Ornstein–Uhlenbeck
   process are learned by backpropagating a moment-matching loss through the
   Euler–Maruyama solver (the noise is reparameterised, so the loss is a smooth
   function of the parameters on a fixed Brownian path).
2. Fractional noise: paths of the Markov-approximated fractional Brownian motion
   (a weighted sum of Ornstein–Uhlenbeck processes driven by one Brownian motion)
   for several Hurst indices, next to exact fBM samples, and the variance check
   Var(B^H_t) = t^(2H).

Run it as a script (``python tutorials/sde_basics.py [--quick] [--out DIR]``) or
cell by cell; figures go to ``--out``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from sciml.solvers import FractionalNoiseSDE, MarkovFBM, sample_exact_fbm, solve_sde

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "sde_basics", quick_help="fewer paths and iterations (CI)")

# %% [markdown]
# ## 1. Fitting an Ornstein–Uhlenbeck process
# Data: 512 paths of dX = theta (mu - X) dt + sigma dW with theta = 2, mu = 1, sigma = 0.5 from
# X0 = 0, observed at 21 times on [0, 2]. Model: the same family with unknown parameters. The
# loss matches the mean and the standard deviation of simulated paths to the data at every
# observation time; gradients flow through `solve_sde` (a new Brownian sample, seeded, each
# iteration).

# %%


class OU(torch.nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, theta: float, mu: float, sigma: float):
        super().__init__()
        self.log_theta = torch.nn.Parameter(torch.tensor(theta).log())
        self.mu = torch.nn.Parameter(torch.tensor(mu))
        self.log_sigma = torch.nn.Parameter(torch.tensor(sigma).log())

    def f(self, t, x):
        return self.log_theta.exp() * (self.mu - x)

    def g(self, t, x):
        return self.log_sigma.exp().expand_as(x)


n_paths = 256 if args.quick else 512
ts = torch.linspace(0.0, 2.0, 21)
x0 = torch.zeros(n_paths, 1)
with torch.no_grad():
    data = solve_sde(OU(2.0, 1.0, 0.5), x0, ts, method="euler", dt=0.01, seed=1).ys
model = OU(0.5, 0.0, 1.0)
opt = torch.optim.Adam(model.parameters(), lr=0.05)
iters = 60 if args.quick else 300
for it in range(iters):
    sim = solve_sde(model, x0, ts, method="euler", dt=0.01, seed=100 + it).ys
    loss = (sim.mean(1) - data.mean(1)).square().mean() + (sim.std(1) - data.std(1)).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
theta, mu, sigma = model.log_theta.exp().item(), model.mu.item(), model.log_sigma.exp().item()
print(f"fitted theta={theta:.2f} (true 2), mu={mu:.2f} (true 1), sigma={sigma:.2f} (true 0.5); loss {loss.item():.2e}")

with torch.no_grad():
    sim = solve_sde(model, x0, ts, method="euler", dt=0.01, seed=7).ys
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for k in range(20):
    ax.plot(ts, data[:, k, 0], color="0.7", lw=0.7)
ax.plot(ts, data.mean(1)[:, 0], "k-", lw=2, label="data mean")
ax.fill_between(ts, (data.mean(1) - data.std(1))[:, 0], (data.mean(1) + data.std(1))[:, 0], color="k", alpha=0.1)
ax.plot(ts, sim.mean(1)[:, 0], "r--", lw=2, label="fitted model mean")
ax.plot(ts, (sim.mean(1) + sim.std(1))[:, 0], "r:", lw=1, label="fitted mean ± std")
ax.plot(ts, (sim.mean(1) - sim.std(1))[:, 0], "r:", lw=1)
ax.set_xlabel("t")
ax.legend(loc="lower right")
fig.tight_layout()
fig.savefig(out / "ou_fit.png", dpi=110)
plt.close(fig)

# %% [markdown]
# ## 2. Fractional noise
# `MarkovFBM(hurst, n_processes=5, gamma_max=20)` approximates fBM by K Ornstein–Uhlenbeck
# processes with speeds on a geometric grid, all driven by one Brownian motion, with weights that
# minimise the L2 distance to the true fBM. `FractionalNoiseSDE` turns an SDE driven by fBM into an
# augmented SDE the integrators solve; here b = 0 and sigma = 1, so X is the approximate fBM itself.

# %%


class Pure(torch.nn.Module):
    """dX = dB^H."""

    def f(self, t, x):
        return torch.zeros_like(x)

    def g(self, t, x):
        return torch.ones_like(x)


n = 500 if args.quick else 4000
tgrid = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
for ax, hurst in zip(axes, (0.3, 0.5, 0.7)):
    fbm = MarkovFBM(hurst, n_processes=5, gamma_max=20.0, kind="II", horizon=1.0)
    sde = FractionalNoiseSDE(Pure(), fbm)
    z0 = sde.initial_state(torch.zeros(n, 1, dtype=torch.float64))
    zs = solve_sde(sde, z0, tgrid, method="heun", dt=0.01, seed=3).ys
    x = zs[..., 0]  # X is the first component of the augmented state: (time, paths)
    exact = sample_exact_fbm(tgrid[1:], 5, hurst, generator=torch.Generator().manual_seed(0))
    for k in range(5):
        ax.plot(tgrid, x[:, k], lw=0.8, color="C0")
        ax.plot(tgrid[1:], exact[k], lw=0.8, color="C3", alpha=0.7)
    var_err = ((x[1:].var(1) - tgrid[1:] ** (2 * hurst)).abs() / tgrid[-1] ** (2 * hurst)).max().item()
    ax.set_title(f"H = {hurst}")
    ax.set_xlabel("t")
    print(f"H={hurst}: relative L2 error of the approximation {fbm.relative_error().item():.1e}; "
          f"max |Var(X_t) - t^2H| / Var(X_1) over {n} simulated paths {var_err:.3f} "
          f"(sampling error of a variance ~ {(2 / n) ** 0.5:.3f})")
fig.suptitle("Markov-approximated fBM (blue) and exact fBM samples (red)")
fig.tight_layout()
fig.savefig(out / "fractional_paths.png", dpi=110)
plt.close(fig)
print(f"figures written to {out}")
