"""The simulation loop: a stepper, diagnostics recorded as it runs, and a clear stop.

``Simulation(stepper, diagnostics).run(u0, n_steps)`` applies the stepper ``n_steps``
times and keeps every ``save_every``-th state. At each saved state it records

* ``rms``: the root-mean-square of each sample (always; it is also the blow-up test);
* ``error``: the relative L2 error ``||u - u_ref|| / ||u_ref||`` per sample, when a
  reference trajectory is given (on the same grid or a finer one: subsampled when the
  grids nest, as the problems subsample their outputs, else Fourier-restricted);
* every entry of ``diagnostics``: ``name -> fn(u)`` returning ``(batch,)`` or
  ``(batch, k)`` (conserved quantities, energy spectra, ...;
  :func:`flow_diagnostics` gives those of a 2-D incompressible flow).

After every step the state is checked: a non-finite value, or an rms above
``blowup_factor`` times the initial one, stops the run. The states and diagnostics up to
the last good step are returned with ``status`` (``"completed"``, ``"non-finite"``,
``"blow-up"``) and a message naming the step, the time and the samples; with
``raise_on_failure=True`` a :class:`SimulationError` carrying the partial result is
raised instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm

from sciml.pde import SpectralGrid, Stepper, check_states, rollout, saved_states
from sciml.problems import FlowDiagnosticsProblem, check_problem
from sciml.validation import check_callable, check_mapping, check_real, check_tensor

__all__ = ["Rollout", "Simulation", "SimulationError", "flow_diagnostics", "relative_error"]


class SimulationError(RuntimeError):
    """A rollout stopped on a non-finite or blown-up state; ``.rollout`` holds what was computed."""

    def __init__(self, message: str, rollout: "Rollout"):
        super().__init__(message)
        self.rollout = rollout


@dataclass
class Rollout:
    times: torch.Tensor                   # (T,) times of the saved states
    states: torch.Tensor                  # (T, batch, channels, *space)
    diagnostics: dict[str, torch.Tensor]  # name -> (T, batch) or (T, batch, k)
    status: str                           # "completed", "non-finite" or "blow-up"
    message: str
    steps: int                            # steps taken (the failed one excluded)
    wall_time: float                      # seconds in the stepper and diagnostics
    stepper: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def summary(self) -> str:
        lines = [f"{self.stepper}: {self.status}, {self.steps} steps to t = {float(self.times[-1]):g} "
                 f"in {self.wall_time:.3g} s"]
        if "error" in self.diagnostics:
            err = self.diagnostics["error"]
            lines.append(f"  relative L2 error: final {float(err[-1].mean()):.3e} (mean over the batch), "
                         f"max over time {float(err.max()):.3e}")
        if not self.ok:
            lines.append(f"  {self.message}")
        return "\n".join(lines)


def relative_error(u: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``||u - ref||_2 / ||ref||_2`` per sample over all but the batch axis."""
    check_tensor("u", u, min_ndim=1)
    check_tensor("reference", reference, min_ndim=1)
    if u.shape != reference.shape:
        raise ValueError(f"u and reference must have the same shape (batch, ...), got {tuple(u.shape)} and "
                         f"{tuple(reference.shape)}; bring both to one grid first")
    diff = (u - reference).flatten(1).norm(dim=1)
    return diff / reference.flatten(1).norm(dim=1).clamp_min(torch.finfo(reference.dtype).tiny)


def _rms(u: torch.Tensor) -> torch.Tensor:
    return u.flatten(1).square().mean(1).sqrt()


def _on_grid(reference: torch.Tensor, space: tuple[int, ...]) -> torch.Tensor:
    """A reference state on the simulation grid: by striding when the grids nest (the way
    the problems subsample their outputs, so a model trained on such data is compared
    with what it learnt), else by Fourier truncation (periodic grids)."""
    fine = tuple(reference.shape[-len(space):])
    if fine == space:
        return reference
    if all(f % c == 0 for f, c in zip(fine, space)):
        index = (Ellipsis, *(slice(None, None, f // c) for f, c in zip(fine, space)))
        return reference[index]
    return SpectralGrid(fine).resample(reference, space)


def flow_diagnostics(problem: FlowDiagnosticsProblem, spectrum: bool = True) -> dict[str, Callable]:
    """Energy, enstrophy and mean vorticity (circulation per area) of states ``(batch, 1,
    s, s)`` of a 2-D vorticity problem (a :class:`~sciml.problems.FlowDiagnosticsProblem`,
    e.g. :class:`problems.NavierStokes`), and the shell-summed energy spectrum ``E(k)``,
    ``k = 1 .. k_max`` (``spectrum=True``)."""
    check_problem("flow_diagnostics", problem, FlowDiagnosticsProblem)
    out = {"energy": lambda u: problem.energy(u[:, 0]), "enstrophy": lambda u: problem.enstrophy(u[:, 0]),
           "mean": lambda u: u[:, 0].mean(dim=(-2, -1))}
    if spectrum:
        out["spectrum"] = lambda u: problem.energy_spectrum(u[:, 0])[1]
    return out


class Simulation:
    """Args:
        stepper: any :class:`~sciml.pde.Stepper`.
        diagnostics: ``name -> fn(state)`` recorded at every saved state.
        blowup_factor: stop when a sample's rms exceeds this multiple of its initial rms
            (samples that start at rest, rms 0, are only checked for non-finite values).
    """

    def __init__(self, stepper: Stepper, diagnostics: dict[str, Callable] | None = None,
                 blowup_factor: float = 1e3):
        if not isinstance(stepper, Stepper):
            raise TypeError(f"stepper must be callable with a dt attribute (the Stepper protocol), got "
                            f"{type(stepper).__name__}")
        if not check_real("blowup_factor", blowup_factor) > 1:
            raise ValueError(f"blowup_factor must be > 1, got {blowup_factor}")
        check_mapping("diagnostics", diagnostics, "fn(state)",
                      lambda where, fn: check_callable(where, fn, "fn(state) -> (batch,) or (batch, k)"),
                      example="{'energy': fn}")
        reserved = {"rms", "error"} & set(diagnostics or {})
        if reserved:
            raise ValueError(f"diagnostic names {sorted(reserved)} are reserved")
        self.stepper, self.diagnostics, self.blowup_factor = stepper, dict(diagnostics or {}), float(blowup_factor)

    def run(self, u0: torch.Tensor, n_steps: int, save_every: int = 1, t0: float = 0.0,
            reference: torch.Tensor | None = None, grad: bool = False, progress: bool = False,
            raise_on_failure: bool = False, callback: Callable | None = None) -> Rollout:
        """Roll out from ``u0`` ``(batch, channels, *space)`` for ``n_steps`` steps.

        ``reference``: ``(n_steps // save_every + 1, batch, channels, *space')`` states at
        the saved times (``space'`` the same grid or a finer periodic one). ``grad``: keep
        the autograd graph (for differentiating through the rollout). ``callback(i, u)``
        is called after each saved step ``i``. The steps run in :func:`sciml.pde.rollout`,
        which checks every new state and records the saved ones.
        """
        check_states(u0, "Simulation.run")
        t0 = check_real("t0", t0)
        n_saved = saved_states(n_steps, save_every)
        if not bool(torch.isfinite(u0).all()):
            raise ValueError("the initial state contains inf or nan")
        space = tuple(u0.shape[2:])
        if reference is not None:
            if not isinstance(reference, torch.Tensor) or reference.dim() != u0.dim() + 1 or \
                    reference.shape[0] < n_saved or tuple(reference.shape[1:3]) != tuple(u0.shape[:2]):
                got = tuple(reference.shape) if isinstance(reference, torch.Tensor) else type(reference).__name__
                raise ValueError(f"reference must be ({n_saved}, {u0.shape[0]}, {u0.shape[1]}, *space) states at the "
                                 f"saved times, got {got}")
        dt = float(self.stepper.dt)
        name = getattr(self.stepper, "name", type(self.stepper).__name__)
        records = {k: [] for k in ("rms", *(("error",) if reference is not None else ()), *self.diagnostics)}
        rms0 = _rms(u0.detach())
        limit = torch.where(rms0 > 0, self.blowup_factor * rms0, float("inf"))  # a state at rest has no scale
        stop = {"status": "completed", "message": "", "steps": n_steps}
        bar = tqdm(total=n_steps, desc=f"simulate ({name})", unit="step") if progress else None

        def accept(i, u_next):
            check = u_next.detach()
            finite = torch.isfinite(check.flatten(1)).all(1)
            big = _rms(torch.where(finite.view(-1, *[1] * (check.dim() - 1)), check, 0)) > limit
            bad = ~finite | big
            if bool(bad.any()):
                samples = bad.nonzero().flatten().tolist()
                status = "non-finite" if bool((~finite).any()) else "blow-up"
                what = "inf or nan values" if status == "non-finite" else \
                    f"an rms above {self.blowup_factor:g} x the initial one"
                stop.update(status=status, steps=i - 1, message=(
                    f"step {i} (t = {t0 + i * dt:g}) produced {what} in {len(samples)} of {u0.shape[0]} samples "
                    f"{samples[:10]}{' ...' if len(samples) > 10 else ''}; states up to step {i - 1} "
                    f"(t = {t0 + (i - 1) * dt:g}) are kept (saved every {save_every})"))
                return False
            if bar is not None:
                bar.update(1)
            return True

        def on_save(i, u):
            with torch.no_grad():
                records["rms"].append(_rms(u))
                if reference is not None:
                    records["error"].append(relative_error(u, _on_grid(reference[i // save_every].to(u), space)))
                for key, fn in self.diagnostics.items():
                    records[key].append(fn(u))
            if callback is not None and i > 0:
                callback(i, u)

        start = time.perf_counter()
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            states = rollout(self.stepper, u0, n_steps, save_every, accept=accept, on_save=on_save)
        if bar is not None:
            bar.close()
        wall = time.perf_counter() - start
        result = Rollout(times=t0 + dt * save_every * torch.arange(len(states), dtype=torch.float64),
                         states=states, diagnostics={k: torch.stack(v) for k, v in records.items()},
                         status=stop["status"], message=stop["message"], steps=stop["steps"], wall_time=wall,
                         stepper=name)
        if raise_on_failure and not result.ok:
            raise SimulationError(f"simulation with {name} stopped: {stop['message']}", result)
        return result
