"""Simulated populations observed as snapshots: the data of trajectory inference.

Each snapshot is a fresh sample (measurement destroys the particles): snapshot ``k``
simulates its own ``n`` particles from ``t_0`` to ``t_k``, so particles are unpaired
across times. :meth:`snapshots` returns ``(times, [X_0, ..., X_K])``; ``solve`` gives
whole paths at the snapshot times (the Problem contract).

* :class:`OUPopulation`: ``dX = A X dt + sigma dW`` simulated exactly (the Gaussian
  transitions of its ``reference``, a :class:`sciml.solvers.LinearSDE`); the SBIRR
  brief's check: ``A = [[-0.3, -1], [1, -0.3]]``, ``sigma = 0.3``,
  ``X_0 ~ N((2, 0), 0.04 I)``, snapshots at ``t = 0, 1, ..., 6``.
* :class:`Repressilator`: the three-gene repressilator (Elowitz & Leibler 2000) in mRNA
  form, ``dx_i = [beta / (1 + (x_{i-1} / k)^n) - gamma x_i] dt + noise x_i dW_i`` (Itô,
  cyclic ``i - 1``), ``beta = 10, n = 3, k = 1, gamma = 1``, noise 0.02 (the generator of
  mmTrajectory-inference-benchmarks); ``X_0 ~ N((1, 1, 2), 0.01 I)`` and 10 snapshots on
  ``[0, 10]`` as in Zhang & Stumpf's comparison. Simulated by Euler–Maruyama through the
  SDE core with step ``dt``.
"""

from __future__ import annotations

import numpy as np
import torch

from sciml.problems import Problem
from sciml.solvers import LinearSDE, solve_sde
from sciml.validation import check_int, check_real, check_seed, check_tensor

__all__ = ["OUPopulation", "Repressilator"]


class _Population(Problem):
    def __init__(self, times, initial_mean, initial_std: float):
        self.times = torch.as_tensor(times, dtype=torch.float64)
        if self.times.dim() != 1 or not (torch.diff(self.times) > 0).all():
            raise ValueError(f"times must be strictly increasing, got {self.times.tolist()}")
        self.initial_mean = torch.as_tensor(initial_mean, dtype=torch.float64)
        if self.initial_mean.dim() != 1 or not bool(torch.isfinite(self.initial_mean).all()):
            raise ValueError(f"initial_mean must be a finite vector (d,), got {self.initial_mean.tolist()}")
        self.initial_std = check_real("initial_std", initial_std, positive=True)

    def grid(self) -> dict:
        return {"t": self.times.numpy()}

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(check_int("n", n), self.initial_mean.shape[0], generator=generator, dtype=torch.float64)
        return self.initial_mean + self.initial_std * z

    def snapshots(self, n: int, seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(times, [X_0, ..., X_K])``, ``X_k`` ``(n, d)`` from its own ``n`` particles."""
        n, seed = check_int("n", n), check_seed("seed", seed)
        g = torch.Generator().manual_seed(seed)
        out = []
        for k in range(len(self.times)):
            x0 = self.sample_inputs(n, g)
            out.append(x0 if k == 0 else self._simulate(x0, self.times[:k + 1], g)[:, -1])
        return self.times, out

    def solve(self, inputs: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Paths ``(n, K + 1, d)`` at the snapshot times from ``inputs`` at ``times[0]``."""
        check_tensor("inputs", inputs, shape=(None, self.initial_mean.shape[0]), floating=True, finite=True,
                     layout="(n, d) initial states")
        seed = check_seed("seed", seed)
        return self._simulate(inputs.to(torch.float64), self.times, torch.Generator().manual_seed(seed))


class OUPopulation(_Population):
    name = "ou_population"

    def __init__(self, drift_matrix=((-0.3, -1.0), (1.0, -0.3)), sigma: float = 0.3, times=tuple(range(7)),
                 initial_mean=(2.0, 0.0), initial_std: float = 0.2):
        super().__init__(times, initial_mean, initial_std)
        self.reference = LinearSDE(torch.as_tensor(drift_matrix, dtype=torch.float64), sigma=sigma)
        if self.reference.dim != self.initial_mean.shape[0]:
            raise ValueError("drift_matrix and initial_mean disagree on the dimension")

    def parameters(self) -> dict:
        return {"drift_matrix": self.reference.A.tolist(), "sigma": self.reference.sigma,
                "initial_mean": self.initial_mean.tolist(), "initial_std": self.initial_std}

    def _simulate(self, x0, times, generator):
        return self.reference.simulate(x0, times, generator)


class _RepressilatorSDE:
    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, beta, hill, k, decay, noise):
        self.beta, self.hill, self.k, self.decay, self.noise = beta, hill, k, decay, noise

    def f(self, t, x):
        upstream = torch.roll(x, 1, dims=-1).clamp_min(0)       # x_{i-1}, cyclically
        return self.beta / (1 + (upstream / self.k) ** self.hill) - self.decay * x

    def g(self, t, x):
        return self.noise * x


class Repressilator(_Population):
    name = "repressilator"

    def __init__(self, beta: float = 10.0, hill: float = 3.0, k: float = 1.0, decay: float = 1.0,
                 noise: float = 0.02, times=tuple(np.linspace(0.0, 10.0, 10)), initial_mean=(1.0, 1.0, 2.0),
                 initial_std: float = 0.1, dt: float = 1e-2):
        super().__init__(times, initial_mean, initial_std)
        if self.initial_mean.shape != (3,):
            raise ValueError("the repressilator has three genes: initial_mean needs 3 entries")
        self.sde = _RepressilatorSDE(check_real("beta", beta, positive=True, hint="the maximal production rate"),
                                     check_real("hill", hill, positive=True, hint="the Hill coefficient, e.g. 3"),
                                     check_real("k", k, positive=True, hint="the repression threshold"),
                                     check_real("decay", decay, positive=True, hint="the degradation rate"),
                                     check_real("noise", noise, nonnegative=True,
                                                hint="the multiplicative noise level (0: deterministic)"))
        self.dt = check_real("dt", dt, positive=True)

    def parameters(self) -> dict:
        s = self.sde
        return {"beta": s.beta, "hill": s.hill, "k": s.k, "decay": s.decay, "noise": s.noise, "dt": self.dt,
                "initial_mean": self.initial_mean.tolist(), "initial_std": self.initial_std}

    def _simulate(self, x0, times, generator):
        seed = int(torch.randint(2 ** 62, (1,), generator=generator))
        return solve_sde(self.sde, x0, times, method="euler", dt=self.dt, seed=seed).ys.transpose(0, 1)
