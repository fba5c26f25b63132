"""Tutorial: define a new PDE problem in Python and generate its dataset.

A problem is a small class: how to draw random inputs, how to solve for them
(batched), its parameters and its grid. Everything else — seeded chunks, a resumable
HDF5 file, a progress bar, the command line — comes from `sciml.problems.Problem`.

Here: the linear Korteweg–de Vries (Airy) equation ``u_t + c u_xxx = 0`` on the
periodic interval [0, 2 pi). Each Fourier mode rotates, ``u_hat_k(t) = u_hat_k(0)
exp(i c k^3 t)``, so the solver is exact; random initial data come from a Gaussian
random field. Run ``python tutorials/define_a_problem.py [--quick] [--out DIR]``.
"""

# %%
import math

import h5py
import matplotlib.pyplot as plt
import numpy as np
import torch

from sciml.pde import SpectralGrid, gaussian_random_field
from sciml.problems import Problem

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "define_a_problem", quick_help="a small dataset (CI)",
                           out_help="folder for data and figures", threads=None)

# %% [markdown]
# ## 1. The problem: about thirty lines

# %%


class Airy(Problem):
    """``u_t + c u_xxx = 0`` on [0, 2 pi), periodic; inputs u(., 0), outputs u at n_times times."""

    name = "airy"

    def __init__(self, c: float = 0.05, resolution: int = 128, n_times: int = 6, t_end: float = 1.0):
        self.c, self.resolution, self.n_times, self.t_end = c, resolution, n_times, t_end
        self.spectral = SpectralGrid((resolution,), length=2 * math.pi)

    def parameters(self) -> dict:
        return {"c": self.c, "resolution": self.resolution, "n_times": self.n_times, "t_end": self.t_end}

    def grid(self) -> dict:
        return {"x": np.arange(self.resolution) * 2 * np.pi / self.resolution,
                "t": np.linspace(0, self.t_end, self.n_times)}

    def sample_inputs(self, n, generator=None):
        return gaussian_random_field(n, (self.resolution,), alpha=2.0, tau=5.0, generator=generator)

    def solve(self, inputs):
        u0 = inputs.double()
        (k,) = self.spectral.wavenumbers(torch.float64, odd=True)  # u_xxx is an odd derivative
        t = torch.linspace(0, self.t_end, self.n_times, dtype=torch.float64)
        u_hat = self.spectral.fft(u0).unsqueeze(-2) * torch.exp(1j * self.c * k**3 * t.unsqueeze(-1))
        return self.spectral.ifft(u_hat).float()


# %% [markdown]
# ## 2. Check the solver before trusting its data
# A single mode sin(3x) must become sin(3x + 27 c t); and the L2 norm is conserved.

# %%
problem = Airy(resolution=64 if args.quick else 128)
x = torch.tensor(problem.grid()["x"])
u = problem.solve(torch.sin(3 * x).unsqueeze(0))[0].double()
t = torch.tensor(problem.grid()["t"])
exact = torch.sin(3 * x[None, :] + 27 * problem.c * t[:, None])
print(f"single-mode error {float((u - exact).abs().max()):.1e} (float32 output)")

# %% [markdown]
# ## 3. Generate: seeded, chunked, resumable, one HDF5 file
# Interrupt it and run it again: finished chunks are kept and the final file is
# byte-identical to an uninterrupted run. The same works from the shell for built-in
# problems: `sciml data generate convection --n 1000 --out data/convection.h5`.

# %%
path = problem.generate(32 if args.quick else 512, out / "airy.h5", seed=0, chunk_size=16)
with h5py.File(path) as f:
    inputs, outputs = f["inputs"][:], f["outputs"][:]
    print(f"{path}: inputs {inputs.shape}, outputs {outputs.shape}, attrs {dict(f.attrs)}")
norms = np.sqrt((outputs**2).mean(-1))
print(f"L2 norm drift over time across the dataset: {np.abs(norms / norms[:, :1] - 1).max():.1e}")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
for j in range(outputs.shape[1]):
    ax.plot(problem.grid()["x"], outputs[0, j], label=f"t = {problem.grid()['t'][j]:.1f}")
ax.set_xlabel("x")
ax.set_ylabel("u")
ax.set_title("one sample of the Airy dataset")
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(out / "airy_sample.png", dpi=110)
plt.close(fig)
print(f"figure written to {out}")
