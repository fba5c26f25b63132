"""Tutorial: the ODE solver core.

What this shows, each in a cell:

1. Work-precision: adaptive dopri5, tsit5 and bosh3 against scipy's DOP853 at
   rtol=1e-12 on a nonlinear spiral, error vs number of function evaluations.
2. Per-sample step sizes: a batch of oscillators with very different frequencies,
   solved with one shared step size and with one step size per sample.
3. Gradients: backprop through the solver vs the backsolve adjoint on a neural ODE,
   with forward/backward evaluation counts, and the differentiable error estimate
   ``stats.error_sum`` that solver-heuristic regularisers use.

Run it as a script (``python tutorials/ode_solvers.py [--quick] [--out DIR]``) or
cell by cell in an editor that understands ``# %%``. Figures go to ``--out``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.integrate import solve_ivp

from sciml.solvers import BacksolveAdjoint, solve_ode

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "ode_solvers", quick_help="fewer tolerances and iterations (CI)")

# %% [markdown]
# ## 1. Work-precision on a nonlinear spiral
# dy/dt = A y^3 (elementwise cube), A = [[-0.1, 2], [-2, -0.1]], y(0) = (2, 0), t in [0, 5].
# The reference is scipy's 8th-order DOP853 at rtol = atol = 1e-12. Errors are measured at 11
# output times that the adaptive solvers do not step onto: they come from each method's
# dense output, so the curves also test the interpolants.

# %%
A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64)
y0 = torch.tensor([2.0, 0.0], dtype=torch.float64)
t = torch.linspace(0.0, 5.0, 11, dtype=torch.float64)
ref = solve_ivp(lambda s, y: (y**3) @ A.numpy().T, (0.0, 5.0), y0.numpy(), method="DOP853",
                rtol=1e-12, atol=1e-12, t_eval=t.numpy()).y.T
tols = [1e-4, 1e-6, 1e-8] if args.quick else [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
fig, ax = plt.subplots(figsize=(5, 4))
print(f"{'method':>7} {'tol':>7} {'NFE':>6} {'max error':>10}")
for method in ("bosh3", "dopri5", "tsit5"):
    nfes, errs = [], []
    for tol in tols:
        sol = solve_ode(lambda s, y: (y**3) @ A.T, y0, t, method=method, rtol=tol, atol=tol)
        err = np.abs(sol.ys.numpy() - ref).max()
        nfes.append(sol.stats.nfe)
        errs.append(err)
        print(f"{method:>7} {tol:>7.0e} {sol.stats.nfe:>6} {err:>10.2e}")
    ax.loglog(nfes, errs, "o-", label=method)
ax.set_xlabel("function evaluations")
ax.set_ylabel("max error at the 11 output times")
ax.set_title("work-precision, cubic spiral")
ax.legend()
fig.tight_layout()
fig.savefig(out / "work_precision.png", dpi=110)
plt.close(fig)

# %% [markdown]
# ## 2. One step size per sample
# A batch of harmonic oscillators y'' = -w^2 y with w from 1 to 40. With one step size
# for the batch (torchdiffeq's behaviour) the error norm is taken over the whole batch, so
# the fastest oscillator dictates the steps of all. With `per_sample=True` every sample
# keeps its own time, step size and accept/reject decision.

# %%
omega = torch.linspace(1.0, 40.0, 8 if args.quick else 16, dtype=torch.float64)


def oscillator(s, y):
    return torch.stack([y[:, 1], -(omega**2) * y[:, 0]], dim=1)


yb = torch.stack([torch.ones_like(omega), torch.zeros_like(omega)], dim=1)
tb = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
shared = solve_ode(oscillator, yb, tb, method="tsit5", rtol=1e-6, atol=1e-8)
own = solve_ode(oscillator, yb, tb, method="tsit5", rtol=1e-6, atol=1e-8, per_sample=True)
exact = torch.cos(omega * 2.0)
print(f"shared step size: {shared.stats.nfe} evaluations for every sample; "
      f"max error {float((shared.ys[-1, :, 0] - exact).abs().max()):.1e}")
print(f"per-sample step sizes: evaluations from {int(own.stats.nfe.min())} to {int(own.stats.nfe.max())}; "
      f"max error {float((own.ys[-1, :, 0] - exact).abs().max()):.1e}")
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(omega, own.stats.nfe, "o-", label="per-sample step")
ax.axhline(shared.stats.nfe, color="k", ls="--", label="one step for the batch")
ax.set_xlabel("oscillator frequency w")
ax.set_ylabel("function evaluations")
ax.legend()
fig.tight_layout()
fig.savefig(out / "per_sample_nfe.png", dpi=110)
plt.close(fig)

# %% [markdown]
# ## 3. Gradients: through the solver, or by the adjoint
# Backprop through the solver gives the exact gradient of the discrete solution and keeps
# every step in memory. The backsolve adjoint re-solves the system backwards with the
# adjoint state (O(1) memory in the number of steps); its gradient is accurate to the
# backward tolerance. The seminorm leaves parameter gradients out of the step-size
# control of the backward solve, which saves evaluations.

# %%


class Field(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))

    def forward(self, s, y):
        return self.net(y)


field = Field().double()
x0 = torch.randn(64, 2, dtype=torch.float64)
tt = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
results = {}
for name, adjoint in (("direct", False), ("adjoint, full norm", BacksolveAdjoint(seminorm=False)),
                      ("adjoint, seminorm", BacksolveAdjoint(seminorm=True))):
    field.zero_grad()
    sol = solve_ode(field, x0, tt, method="dopri5", rtol=1e-8, atol=1e-10, adjoint=adjoint)
    sol.ys.square().mean().backward()
    results[name] = torch.cat([p.grad.reshape(-1) for p in field.parameters()])
    print(f"{name:>19}: forward NFE {sol.stats.nfe:4d}, backward NFE {sol.stats.nfe_backward:4d}")
for name in ("adjoint, full norm", "adjoint, seminorm"):
    rel = float((results[name] - results["direct"]).norm() / results["direct"].norm())
    print(f"relative difference of the {name} gradient to the direct one: {rel:.1e}")

# %% [markdown]
# `stats.error_sum` is sum_j |h_j| E_j over accepted steps, where E_j is the scaled local
# error estimate; with backprop through the solver it is differentiable, so it can be
# added to a loss to prefer dynamics that are cheap to solve (ERNODE).

# %%
sol = solve_ode(field, x0, tt, method="tsit5", rtol=1e-6, atol=1e-8, stiffness=True)
(grad_norm,) = torch.autograd.grad(sol.stats.error_sum, [field.net[0].weight])
print(f"error_sum {sol.stats.error_sum.item():.3e}, stiffness_sum {sol.stats.stiffness_sum.item():.3e}, "
      f"|d error_sum / d W1| = {float(grad_norm.norm()):.3e}")
print(f"figures written to {out}")
