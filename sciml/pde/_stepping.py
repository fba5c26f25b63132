"""Time stepping of fields: the :class:`Stepper` protocol, a solver's step as a stepper,
and the one rollout loop every stepper runs in.

A stepper advances a batch of states ``(batch, channels, *space)`` by a fixed time
``dt``: ``u_next = stepper(u)``. Anything with that call and a ``dt`` attribute is a
:class:`Stepper`: a PDE solver step (:class:`SolverStepper`), a trained model or a hybrid
(``sciml.sim``).

:func:`rollout` applies a step map ``n_steps`` times and keeps every ``save_every``-th
state. It serves both the problems' solvers (raw step maps on Fourier coefficients, any
shape) and the simulation loop, which watches every new state through ``accept`` (a
blow-up test that can stop the run) and records diagnostics through ``on_save``.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch

from sciml.validation import ArgumentTypeError, check_callable, check_int, check_real

__all__ = ["SolverStepper", "Stepper", "check_dt", "check_states", "rollout", "saved_states"]


@runtime_checkable
class Stepper(Protocol):
    """``u -> u(t + dt)`` on a batch ``(batch, channels, *space)``.

    Attributes:
        dt: the time one call advances (a positive float).
    """

    dt: float

    def __call__(self, u: torch.Tensor) -> torch.Tensor: ...


def check_dt(dt) -> float:
    """A stepper's time step as a float: finite and > 0."""
    return check_real("dt", dt, positive=True, hint="dt must be a positive number (the time one call advances)")


def check_states(u, where: str) -> None:
    """Raise a ``ValueError`` naming ``where`` unless ``u`` is a real floating tensor
    ``(batch, channels, *space)`` (at least three axes)."""
    if not isinstance(u, torch.Tensor) or not u.is_floating_point() or u.dim() < 3:
        got = f"{u.dtype} tensor of shape {tuple(u.shape)}" if isinstance(u, torch.Tensor) else type(u).__name__
        raise ValueError(f"{where}: states are real tensors (batch, channels, *space); got {got}")


class SolverStepper:
    """``substeps`` steps of a solver per call.

    Args:
        make_step: ``make_step(like) -> step``, the solver's one-step map in its own state
            space (e.g. Fourier coefficients) for tensors on ``like``'s device; built once
            per device and dtype.
        dt: the solver's time step; one call advances ``substeps * dt``.
        substeps: solver steps per call (a positive int).
        encode, decode: state ``(batch, channels, *space)`` <-> solver state (identity by
            default). ``decode`` returns the dtype the solver works in; the stepper casts
            back to the caller's dtype.
        name: shown in reports.
    """

    def __init__(self, make_step: Callable, dt: float, substeps: int = 1, encode: Callable | None = None,
                 decode: Callable | None = None, name: str = "solver"):
        self.make_step = check_callable("make_step", make_step, "make_step(like) -> step")
        if encode is not None:
            check_callable("encode", encode, "encode(u) -> solver state")
        if decode is not None:
            check_callable("decode", decode, "decode(solver state) -> u")
        self.substeps = check_int("substeps", substeps)
        self.solver_dt = check_dt(dt)
        self.dt = self.solver_dt * substeps
        self.name = name
        self.encode = encode or (lambda u: u)
        self.decode = decode or (lambda z: z)
        self._steps: dict = {}

    def _step_for(self, like: torch.Tensor):
        key = (like.device, like.dtype)
        if key not in self._steps:
            self._steps[key] = self.make_step(like)
        return self._steps[key]

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        check_states(u, self.name)
        z = self.encode(u)
        out = rollout(self._step_for(z), z, self.substeps, self.substeps, check_finite=False)[-1]
        return self.decode(out).to(u.dtype)

    def __repr__(self) -> str:
        return f"SolverStepper({self.name}, dt={self.dt:g} = {self.substeps} x {self.solver_dt:g})"


def saved_states(n_steps: int, save_every: int = 1) -> int:
    """The number of states :func:`rollout` keeps, ``n_steps // save_every + 1`` (the
    initial one included), after checking the schedule: ``n_steps >= 0``,
    ``save_every >= 1`` and ``n_steps`` a multiple of ``save_every`` (so the last state
    is kept)."""
    n_steps = check_int("n_steps", n_steps, minimum=0)
    save_every = check_int("save_every", save_every)
    if n_steps % save_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of save_every ({save_every}) so the last "
                         f"state is saved; round n_steps to {n_steps - n_steps % save_every + save_every}")
    return n_steps // save_every + 1


def rollout(step: Callable[[torch.Tensor], torch.Tensor], u0: torch.Tensor, n_steps: int, save_every: int = 1,
            accept: Callable[[int, torch.Tensor], bool] | None = None,
            on_save: Callable[[int, torch.Tensor], None] | None = None, *,
            check_finite: bool = True) -> torch.Tensor:
    """Apply ``step`` ``n_steps`` times from ``u0`` and return the states after
    ``0, save_every, 2 save_every, ..., n_steps`` steps, shape
    ``(n_steps // save_every + 1, *u0.shape)``.

    ``accept(i, u_i)`` (optional) sees the state after every step ``i = 1 .. n_steps``;
    when it returns ``False`` the rollout stops and returns the states saved before step
    ``i`` (``u_i`` is dropped). ``on_save(i, u_i)`` is called at every kept state, the
    initial one (``i = 0``) included.

    Every step must return a tensor of ``u0``'s shape (checked as it goes, no host
    sync). With ``check_finite`` (default) and no ``accept`` the saved states are
    checked once for NaN/Inf at the end (one host sync); an ``accept`` is the caller's
    own blow-up test, so it replaces that check.
    """
    check_callable("step", step, "step(u) -> u after one step")
    if not isinstance(u0, torch.Tensor):
        raise ArgumentTypeError(f"u0 must be a tensor (the initial state), got {type(u0).__name__}; "
                                f"convert it with torch.as_tensor")
    if accept is not None:
        check_callable("accept", accept, "accept(i, u_i) -> bool")
    if on_save is not None:
        check_callable("on_save", on_save, "on_save(i, u_i)")
    saved_states(n_steps, save_every)
    out, u = [u0], u0
    if on_save is not None:
        on_save(0, u0)
    for i in range(1, n_steps + 1):
        u_next = step(u)
        if not isinstance(u_next, torch.Tensor) or u_next.shape != u0.shape:
            got = f"shape {tuple(u_next.shape)}" if isinstance(u_next, torch.Tensor) else type(u_next).__name__
            raise ValueError(f"step must return a tensor of u0's shape {tuple(u0.shape)}; at step {i} it returned "
                             f"{got}")
        if accept is not None and not accept(i, u_next):
            break
        u = u_next
        if i % save_every == 0:
            out.append(u)
            if on_save is not None:
                on_save(i, u)
    states = torch.stack(out)
    if check_finite and accept is None and not bool(torch.isfinite(states).all()):
        raise ValueError("rollout produced NaN or Inf states (not finite): the step blew up or returned NaN; "
                         "reduce the time step or check step")
    return states
