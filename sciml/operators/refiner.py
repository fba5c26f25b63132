"""The Spectral-Refiner (Cao, Brarda, Li & Xi, ICLR 2025): train an :class:`SFNO`
end to end, then fine-tune its last layer per trajectory on the Navier–Stokes
residual.

Every tensor is in the space-time layout of :class:`SFNO`, ``(batch, channels, time,
x, y)``; Navier–Stokes trajectories ``(n, T, s, s)`` are one field, ``w[:, None]``.

Stage 1 (:func:`train_sfno`): the whole model through :class:`~sciml.train.Trainer`
on windows of solver trajectories (:class:`TrajectoryWindows`) with the relative
Bochner norm ``||pred - y||_{L2(0,T; L2)} / ||y||_{L2(0,T; L2)}``
(:class:`BochnerL2`), Adam and a per-step one-cycle schedule (the paper: lr 1e-2,
``div_factor`` 1e3, ``final_div_factor`` 1e4, batch 4, 10 epochs).

Stage 2 (:func:`refine`), for one trajectory at a time: a copy of the model, frozen
except its output convolution, which is widened to more modes (the trained modes and
bias copied into the low corner, new modes initialised at ``+-1e-6``, new bias 0, so
the widened model starts from exactly the stage-1 prediction); the frozen trunk's
latent is computed once. Adam (:func:`sciml.train.minimize`), with separate learning
rates for the spectral bias and the weights, then minimises ``eta^2``, the squared
estimator of
:meth:`problems.navier_stokes.NavierStokes.residual_norm`:

    eta^2 = (1 / T) sum_t sum_k |R_hat_t(k)|^2 / (alpha + |k|^2),    alpha = 10^(-3/2),

the ``L2(0, T; H^-1)`` norm of ``R(w) = d_t w + u . grad w - nu Delta w - f`` over the
predicted window, exact by Parseval, with the advection product formed on the grid
and 2/3-de-aliased, in float64 by default. The window is extended in front by the
last ``context`` input frames (exact data): the residual alone does not know which
trajectory is meant, and without this anchor the fine-tuning can lower ``eta`` while
drifting away from the true solution (measured: 7e-3 -> 1e-2 in error while ``eta``
fell 4x; with four context frames the same run lowers the error 18x).

Time derivative: fourth-order finite differences across the predicted frames
(central five-point inside the window, one-sided five-point stencils at its two
ends). This is a derivative of the trajectory in ``L2(0, T; .)``, as the estimator's
analysis assumes; the reference code instead takes one Crank–Nicolson step of
``+-1e-6`` from each frame, which makes ``R`` a per-frame consistency term of order
``1e-6`` rather than a time derivative, and an FFT in time would assume a periodic
window. On forced ``nu = 1e-3`` solver trajectories saved every 0.2 time units the
finite-difference error is ~1e-8 in ``eta`` against ~1e-2 for 1% noise, so the
estimator sees prediction errors, not its own truncation (see the tests).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from sciml.problems import ResidualProblem, check_problem
from sciml.train import LpLoss, Trainer
from sciml.train.optimize import minimize
from sciml.validation import check_int, check_tensor

from .sfno import SFNO, SpaceTimeSpectralConv

__all__ = ["BochnerL2", "Refinement", "TrajectoryWindows", "freeze_except_output", "refine", "train_sfno",
           "widen_output"]


class TrajectoryWindows(Dataset):
    """Input/output windows from trajectories ``(n, T, x, y)`` (one field, as
    :meth:`NavierStokes.solve` returns them) or ``(n, channels, T, x, y)``.

    Item ``k`` is ``{"x": (channels, n_in, x, y), "y": (channels, n_out, x, y)}`` (the
    layout :class:`SFNO` takes): ``n_in`` consecutive frames and the ``n_out`` frames
    after them, for every start ``0, stride, 2 stride, ...`` of every trajectory.
    """

    def __init__(self, trajectories: torch.Tensor, n_in: int, n_out: int, stride: int = 1,
                 dtype: torch.dtype = torch.float32):
        check_tensor("trajectories", trajectories, layout="(n, T, x, y) or (n, channels, T, x, y)")
        if trajectories.dim() not in (4, 5):
            raise ValueError(f"trajectories must be a tensor (n, T, x, y) or (n, channels, T, x, y), got shape "
                             f"{tuple(trajectories.shape)}")
        n_in, n_out, stride = check_int("n_in", n_in), check_int("n_out", n_out), check_int("stride", stride)
        self.data = (trajectories[:, None] if trajectories.dim() == 4 else trajectories).to(dtype)
        n, T = self.data.shape[0], self.data.shape[2]
        if n_in + n_out > T:
            raise ValueError(f"a window of {n_in} + {n_out} frames does not fit trajectories of {T} frames")
        self.n_in, self.n_out = n_in, n_out
        self.starts = [(i, s) for i in range(n) for s in range(0, T - n_in - n_out + 1, stride)]

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> dict:
        i, s = self.starts[k]
        frames = self.data[i, :, s:s + self.n_in + self.n_out]
        return {"x": frames[:, :self.n_in], "y": frames[:, self.n_in:]}


class BochnerL2(nn.Module):
    """Relative ``L2(0, T; L2)`` error of ``(b, c, T, x, y)`` trajectories: per sample
    and channel ``sqrt(sum_t ||pred_t - y_t||^2) / sqrt(sum_t ||y_t||^2)``, the mean
    over channels, then the batch mean (``reduction="mean"``) or sum."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self._lp = LpLoss(d=3, reduction=reduction)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._lp(pred, target)


def train_sfno(model: nn.Module, train_set: Dataset, *, epochs: int = 10, lr: float = 1e-2, batch_size: int = 4,
               div_factor: float = 1e3, final_div_factor: float = 1e4, seed: int = 0, eval_sets: dict | None = None,
               metrics: dict | None = None, checkpoint_dir: str | None = None, device=None,
               progress: bool = True) -> Trainer:
    """Stage 1: fit ``model`` on ``train_set`` (items ``{"x", "y"}``) with :class:`BochnerL2`,
    Adam and a one-cycle schedule stepped per batch. ``seed``, ``eval_sets``,
    ``checkpoint_dir``, ``device`` and ``progress`` are the :class:`~sciml.train.Trainer`'s;
    ``metrics`` default to the summed :class:`BochnerL2` as ``"rel_l2"``.
    Returns the Trainer after ``fit``."""
    epochs, batch_size = check_int("epochs", epochs), check_int("batch_size", batch_size)
    steps = epochs * math.ceil(len(train_set) / batch_size)
    if steps < 4:
        raise ValueError(f"the one-cycle schedule needs at least 4 steps; {epochs} epochs of "
                         f"{len(train_set)} windows in batches of {batch_size} give {steps}")
    trainer = Trainer(
        model, loss=BochnerL2(), max_epochs=epochs, batch_size=batch_size,
        optimizer=lambda p: torch.optim.Adam(p, lr=lr),
        scheduler=lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=lr, total_steps=steps, div_factor=div_factor, final_div_factor=final_div_factor),
        scheduler_interval="step", seed=seed, eval_sets=eval_sets,
        metrics={"rel_l2": BochnerL2(reduction="sum")} if metrics is None else metrics,
        checkpoint_dir=checkpoint_dir, device=device, progress=progress)
    trainer.fit(train_set)
    return trainer


# ---------------------------------------------------------------------- stage 2
def widen_output(model: SFNO, modes, delta: float = 1.0) -> SpaceTimeSpectralConv:
    """Replace ``model.output.conv`` by one with ``modes`` (each >= the trained ones):
    the trained weights and bias fill the low modes of every corner (the bias rescaled
    so that ``delta * bias`` is unchanged), new weights are uniform in ``+-1e-6``, new
    bias entries 0. The model's output is unchanged up to the new weights' effect."""
    old = model.output.conv
    modes = tuple(int(m) for m in modes)
    if len(modes) != 3 or any(m < o for m, o in zip(modes, old.modes)):
        raise ValueError(f"the widened modes {modes} must be three ints >= the trained {old.modes}")
    new = SpaceTimeSpectralConv(old.in_channels, old.out_channels, modes, bias=True, delta=delta).to(old.weight)
    mx, my, mt = old.modes
    with torch.no_grad():
        new.weight.uniform_(-1e-6, 1e-6)
        new.bias.zero_()
        for corner in range(4):
            xs = slice(0, mx) if corner % 2 == 0 else slice(modes[0] - mx, modes[0])
            ys = slice(0, my) if corner // 2 == 0 else slice(modes[1] - my, modes[1])
            new.weight[corner][:, :, xs, ys, :mt] = old.weight[corner]
            new.bias[corner][xs, ys, :mt] = old.bias[corner] * (old.delta / delta)
    model.output.conv = new
    return new


def freeze_except_output(model: SFNO) -> None:
    """Only ``model.output`` keeps ``requires_grad``."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.output.parameters():
        p.requires_grad_(True)


@dataclass
class Refinement:
    """What :func:`refine` returns; every tensor has one row per trajectory.

    ``eta`` and ``error`` hold the history (``iterations + 1`` values per trajectory,
    the first before any step); ``error`` and the ``frame_error_*`` (relative L2 per
    output frame) are ``None`` without a reference."""

    initial: torch.Tensor
    refined: torch.Tensor
    eta: torch.Tensor
    error: torch.Tensor | None
    frame_error_before: torch.Tensor | None
    frame_error_after: torch.Tensor | None
    seconds: float
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Means over trajectories of the first and last ``eta`` and error."""
        out = {"eta_before": float(self.eta[:, 0].mean()), "eta_after": float(self.eta[:, -1].mean()),
               "seconds": self.seconds}
        if self.error is not None:
            out.update(error_before=float(self.error[:, 0].mean()), error_after=float(self.error[:, -1].mean()),
                       worst_frame_ratio=float((self.frame_error_after / self.frame_error_before).max()))
        return out


def _frame_errors(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Relative L2 error per frame of one field's trajectory ``(T, x, y)``: ``(T,)``."""
    return (pred - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)


def refine(model: SFNO, x: torch.Tensor, problem: ResidualProblem, dt_frames: float, *, out_steps: int | None = None,
           modes=None, iterations: int = 200, lr_bias: float = 1e-4, lr_weight: float = 1e-5,
           delta: float = 1.0, context: int = 4, reference: torch.Tensor | None = None,
           dtype: torch.dtype = torch.float64, progress: bool = False) -> Refinement:
    """Stage 2 for each trajectory of ``x`` ``(b, 1, T_in, s, s)``, returning a :class:`Refinement`
    (``initial`` and ``refined`` are ``(b, 1, out_steps, s, s)``).

    Args:
        model: a trained :class:`SFNO` (not modified: each trajectory gets its own copy).
        x: the input windows on the solver grid of ``problem``.
        problem: a :class:`~sciml.problems.ResidualProblem` (e.g.
            :class:`~problems.navier_stokes.NavierStokes`) whose ``solver_resolution`` is
            ``s`` (its viscosity and forcing define the residual).
        dt_frames: time between frames.
        out_steps: predicted frames (>= 5 for the time stencils; default the model's).
        modes: widened output modes. Default ``(s // 4, s // 4, all)``: a quarter of the
            grid in space (the paper's 64 at 256^2) and every temporal mode of the
            padded window (the paper widens 5 -> 6; with few temporal modes the
            refined trajectory cannot follow the true one in time, and ``eta`` stalls).
        iterations: Adam steps per trajectory.
        lr_bias: learning rate of the spectral bias, relative to the RMS of ``x`` (the
            bias is a Fourier amplitude of the output in ``norm="forward"`` units).
        lr_weight: learning rate of the spectral weights.
        delta: the widened layer's bias scale.
        context: last input frames (exact data) put in front of the prediction when
            ``R`` is formed. They anchor the window to its initial state: without them
            ``eta`` only asks the frames to be *a* Navier–Stokes trajectory, and
            minimising it can drift to a neighbouring one (the error then grows while
            ``eta`` falls). ``eta`` is reported on the same extended window.
        reference: the true frames ``(b, 1, out_steps, s, s)``, for the error history.
        dtype: precision of the fine-tuning (float64 by default).
    """
    if not isinstance(model, SFNO):
        raise TypeError(f"refine needs an SFNO, got {type(model).__name__}")
    check_tensor("x", x, ndim=5, layout="(batch, 1, T_in, s, s)")
    if x.shape[1] != 1 or x.shape[3] != x.shape[4]:
        raise ValueError(f"x must be (batch, 1, T_in, s, s) (one field, the vorticity), got {tuple(x.shape)}")
    s = x.shape[-1]
    check_problem("refine", problem, ResidualProblem)
    if problem.solver_resolution != s:
        raise ValueError(f"the residual is evaluated on the problem's solver grid "
                         f"({problem.solver_resolution}^2) but x is {s}^2: build the problem "
                         f"with solver_resolution={s}")
    out_steps = out_steps or model.out_steps or x.shape[2]
    if out_steps < 5:
        raise ValueError(f"the fourth-order time stencils need out_steps >= 5, got {out_steps}")
    expected = (x.shape[0], 1, out_steps, s, s)
    if reference is not None and tuple(reference.shape) != expected:
        raise ValueError(f"reference must have shape {expected}, got {tuple(reference.shape)}")
    context = check_int("context", context, minimum=0, maximum=x.shape[2])
    iterations = check_int("iterations", iterations)
    if modes is None:
        old = model.output.conv.modes
        padded = 2 * (model.latent_steps + 1) if model.output.time_padding else model.latent_steps + 1
        modes = (max(old[0], s // 4), max(old[1], s // 4), max(old[2], padded // 2 + 1))
    device = next(model.parameters()).device

    def eta2(w, xi):  # (1, 1, T, s, s) -> scalar
        if context:
            w = torch.cat([xi[:, :, -context:], w], dim=2)
        return problem.residual_norm(w[:, 0], dt_frames).square().sum()

    start = time.perf_counter()
    initial, refined, etas, errors, before, after = [], [], [], [], [], []
    for i in range(x.shape[0]):
        net = copy.deepcopy(model).to(device=device, dtype=dtype)
        xi = x[i:i + 1].to(device=device, dtype=dtype)
        with torch.no_grad():
            latent = net.trunk(xi)
            first = net.output(latent, xi, out_steps)
        widen_output(net, modes, delta)
        freeze_except_output(net)
        conv = net.output.conv
        rms = float(xi.square().mean().sqrt())
        ref = None if reference is None else reference[i:i + 1].to(device=device, dtype=dtype)
        pred, err_hist = first, []

        def objective():
            nonlocal pred
            pred = net.output(latent, xi, out_steps)
            if ref is not None:
                err_hist.append(((pred - ref).norm() / ref.norm()).detach())
            return eta2(pred, xi)

        def report(step, loss):
            if (step + 1) % 10 == 0:
                print(f"trajectory {i}: step {step + 1}/{iterations}  eta {math.sqrt(loss):.3e}"
                      + (f"  error {err_hist[-1]:.3e}" if err_hist else ""))

        run = minimize(objective, [{"params": [conv.bias], "lr": lr_bias * rms},
                                   {"params": [conv.weight], "lr": lr_weight}],
                       method="adam", steps=iterations, callback=report if progress else None)
        pred = pred.detach()
        initial.append(first)
        refined.append(pred)
        etas.append(torch.tensor(run.history, dtype=pred.dtype, device=device).sqrt())
        if ref is not None:
            errors.append(torch.stack(err_hist))
            before.append(_frame_errors(first[0, 0], ref[0, 0]))
            after.append(_frame_errors(pred[0, 0], ref[0, 0]))
    has_ref = reference is not None
    return Refinement(
        initial=torch.cat(initial), refined=torch.cat(refined), eta=torch.stack(etas),
        error=torch.stack(errors) if has_ref else None,
        frame_error_before=torch.stack(before) if has_ref else None,
        frame_error_after=torch.stack(after) if has_ref else None,
        seconds=time.perf_counter() - start,
        settings={"modes": tuple(modes), "iterations": iterations, "lr_bias": lr_bias, "lr_weight": lr_weight,
                  "delta": delta, "context": context, "dtype": str(dtype), "dt_frames": dt_frames,
                  "out_steps": out_steps})
