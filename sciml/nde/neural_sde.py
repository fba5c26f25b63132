"""Neural SDEs on the SDE core, with the global and local error regularisers.

:class:`NeuralSDE` solves ``dy = f_theta(t, y) dt + g_theta(t, y) dW`` with
:func:`sciml.solvers.solve_sde`. Each training forward pass draws a new Brownian path
from the module's own generator (so a seed makes training reproducible); evaluation
passes use a fixed path unless a ``seed`` is given.

* Global (ERNSDE, Pal et al. 2021): ``R_E = sum_j |h_j| E_j`` over the accepted steps of
  an adaptive solve (``stats.error_sum``, differentiable through the stages; ``E_j`` the
  embedded estimate of ``heun`` or step doubling), only when backpropagating through
  the solver. The paper also tried the stiffness estimate for SDEs and found no gain;
  it is not offered here.
* Local (Pal et al. 2023): one extra step of the same method from ``(t_s, y(t_s))``
  with the SDE starting-step heuristic and a fresh Brownian path; the regulariser is
  ``E(t_s) h``. It works with fixed or adaptive steps and with the reversible Heun
  adjoint.
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.solvers import sde_initial_step, sde_method, sde_step_error, solve_sde
from sciml.validation import ArgumentTypeError, check_choice, check_int, check_real, check_seed

from ._local import LastSolve, check_local, sample_time, with_time

__all__ = ["NeuralSDE"]


class NeuralSDE(LastSolve, nn.Module):
    """``y(t)`` from ``y(t_0) = y0`` ``(batch, d)`` under ``dy = drift(t, y) dt + diffusion(t, y) dW``.

    Args:
        drift, diffusion: ``nn.Module`` s called as ``(t, y)``; ``diffusion`` returns
            ``(batch, d)`` for diagonal noise, ``(batch, d, 1)`` for scalar noise and
            ``(batch, d, m)`` for general/additive noise (torchsde's shapes).
        noise_type, sde_type: as in torchsde.
        method: of :func:`~sciml.solvers.solve_sde` (default srk for Itô, midpoint
            for Stratonovich).
        dt: the fixed step, or the first step of adaptive stepping.
        adaptive, rtol, atol: error-controlled stepping (needed by ``regularize``).
        adjoint: the reversible Heun adjoint (``method="reversible_heun"``, fixed steps).
        regularize: ``None`` or ``"error"`` (global, needs ``adaptive=True``).
        local: ``None``, ``"unbiased"`` or ``"biased"`` (local regularisation).
        seed: seeds the generator of Brownian paths and of ``t_s``.
        prior_drift: an ``nn.Module`` ``h(t, y)``: the solve then also integrates the
            Girsanov KL rate ``1/2 |(f - h) / g|^2`` of the path against the prior
            SDE with drift ``h`` (diagonal noise, fixed steps) into ``self.log_ratio``
            ``(T - 1, batch)`` (latent SDEs).
    """

    def __init__(self, drift: nn.Module, diffusion: nn.Module, noise_type: str = "diagonal", sde_type: str = "ito",
                 method: str | None = None, dt: float = 1e-2, adaptive: bool = False, rtol: float = 1e-3,
                 atol: float = 1e-3, adjoint: bool = False, regularize: str | None = None, local: str | None = None,
                 seed: int = 0, max_steps: int = 1_000_000, prior_drift: nn.Module | None = None):
        super().__init__()
        for name, module in (("drift", drift), ("diffusion", diffusion), ("prior_drift", prior_drift)):
            if module is not None and not isinstance(module, nn.Module):
                raise ArgumentTypeError(f"{name} must be an nn.Module called as {name}(t, y), got "
                                        f"{type(module).__name__}; wrap a function in a Module")
        if method is not None and not isinstance(method, str):
            raise ArgumentTypeError(f"method must be None or a method name (e.g. 'euler'), got {method!r}")
        sde_method(method, sde_type, noise_type)  # the solver core's names and pairings, checked now
        for flag, value in (("adaptive", adaptive), ("adjoint", adjoint)):
            if not isinstance(value, bool):
                raise ArgumentTypeError(f"{flag} must be True or False, got {value!r}")
        rtol, atol = check_real("rtol", rtol, positive=True), check_real("atol", atol, positive=True)
        if regularize not in (None, "error"):
            raise ValueError(f"regularize must be None or 'error' for SDEs, got {regularize!r}")
        check_local(local)
        if local is not None and regularize is not None:
            raise ValueError("choose global (regularize=...) or local (local=...) regularisation, not both")
        if regularize is not None and adjoint:
            raise ValueError("the global SDE regulariser differentiates the solver's error estimates, which the "
                             "reversible adjoint does not record: use adjoint=False, or local regularisation")
        if regularize is not None and not adaptive:
            raise ValueError("regularize='error' sums the error estimates of accepted adaptive steps: pass "
                             "adaptive=True (or use local regularisation with fixed steps)")
        if prior_drift is not None and (adaptive or noise_type != "diagonal"):
            raise ValueError("prior_drift (the path KL) needs diagonal noise and fixed steps (adaptive=False)")
        self.drift, self.diffusion, self.prior_drift = drift, diffusion, prior_drift
        self.noise_type, self.sde_type, self.method = noise_type, sde_type, method
        dt, max_steps = check_real("dt", dt, positive=True), check_int("max_steps", max_steps)
        self.dt, self.adaptive, self.rtol, self.atol, self.adjoint = dt, adaptive, rtol, atol, adjoint
        self.regularize, self.local, self.max_steps = regularize, local, max_steps
        self.generator = torch.Generator().manual_seed(check_seed("seed", seed))
        self.stats, self.local_value, self.local_nfe, self.t_s, self.log_ratio = None, None, 0, None, None
        self._step_starts: list[float] = []
        self.register_buffer("iterations", torch.zeros((), dtype=torch.long))  # training steps taken

    def f(self, t, y):
        return self.drift(t, y)

    def g(self, t, y):
        return self.diffusion(t, y)

    def h(self, t, y):
        return self.prior_drift(t, y)

    def _draw_seed(self) -> int:
        return int(torch.randint(0, 2**62, (), generator=self.generator))

    def forward(self, y0: torch.Tensor, t: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        """States ``(T, batch, d)`` at the times ``t`` ``(T,)`` on the Brownian path ``seed``
        (default: a new path per training pass, path 0 in evaluation)."""
        t = torch.as_tensor(t, dtype=y0.dtype, device=y0.device)
        if seed is None:
            seed = self._draw_seed() if self.training else 0
        if self.local is None or not self.training:
            self.local_value, self.local_nfe = None, 0
            return self._solve(y0, t, seed).ys
        times = t.tolist()
        t_s = sample_time(self.generator, self.local, times[0], times[-1], self._step_starts)
        merged, at, keep = with_time(times, t_s)
        sol = self._solve(y0, torch.tensor(merged, dtype=y0.dtype, device=y0.device), seed)
        h, nfe0 = sde_initial_step(self, t_s, sol.ys[at].detach(), self.rtol, self.atol, self.method)
        if times[-1] > t_s:
            h = min(h, times[-1] - t_s)
        est = sde_step_error(self, t_s, sol.ys[at], h, self.method, rtol=self.rtol, atol=self.atol,
                             seed=self._draw_seed())
        self.local_value, self.local_nfe, self.t_s = est.error * h, nfe0 + est.nfe, t_s
        if self.log_ratio is not None:  # back to the caller's intervals
            self.log_ratio = torch.stack([self.log_ratio[a:b].sum(0) for a, b in zip(keep[:-1], keep[1:])])
        return sol.ys[keep]

    def _solve(self, y0, t, seed):
        sol = solve_sde(self, y0, t, method=self.method, dt=self.dt, adaptive=self.adaptive, rtol=self.rtol,
                        atol=self.atol, adjoint=self.adjoint, seed=seed, max_steps=self.max_steps,
                        logqp=self.prior_drift is not None)
        self.log_ratio = sol.log_ratio
        self._record(sol.stats, float(t[0]))
        return sol

    def regularization(self, reduction: str = "sum") -> torch.Tensor:
        """``R_E`` of the last solve (``reduction`` ``"sum"`` or ``"mean"`` over its accepted
        steps), or the local ``E(t_s) h``."""
        check_choice("reduction", reduction, ("sum", "mean"))
        if self.local is not None:
            if self.local_value is None:
                raise RuntimeError("run the model in training mode first: the local step is taken in forward")
            return self.local_value
        if self.regularize is None or self.stats is None or self.stats.error_sum is None:
            raise RuntimeError("build NeuralSDE(..., adaptive=True, regularize='error') and run it first")
        value = self.stats.error_sum
        return value / max(self.stats.n_steps, 1) if reduction == "mean" else value
