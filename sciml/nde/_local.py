"""Shared by the ODE and SDE models: the time of the local regulariser's extra step and
the record of the last solve."""

from __future__ import annotations

import torch

KINDS = (None, "unbiased", "biased")


def check_local(local) -> None:
    if local not in KINDS:
        raise ValueError(f"local must be None, 'unbiased' or 'biased', got {local!r}")


def sample_time(generator: torch.Generator, kind: str, t0: float, t1: float, step_starts: list[float]) -> float:
    """``t_s``: uniform on ``[t0, t1)`` (``"unbiased"``), or uniform over the start times of
    the previous solve's accepted steps (``"biased"``, unbiased until a solve has run)."""
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    if kind == "biased" and step_starts:
        return step_starts[min(int(u * len(step_starts)), len(step_starts) - 1)]
    return t0 + u * (t1 - t0)


def with_time(times: list[float], t_s: float) -> tuple[list[float], int, list[int]]:
    """The output times with ``t_s`` merged in: ``(merged, index of t_s, indices of times)``."""
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError("local regularisation needs strictly increasing output times")
    merged = sorted(set(times) | {t_s})
    return merged, merged.index(t_s), [merged.index(v) for v in times]


def step_starts(t0: float, step_ends: list[float] | None) -> list[float]:
    """Start times of the accepted steps from their end times."""
    return [t0] + [float(v) for v in step_ends[:-1]] if step_ends else []


class LastSolve:
    """What a neural DE keeps of its last solve: ``stats``, the step starts for biased
    sampling, and the NFE counters (``local_nfe``: the local step's evaluations)."""

    stats = None
    local_nfe = 0

    def _record(self, stats, t0: float) -> None:
        self.stats = stats
        if stats.step_ts:
            self._step_starts = step_starts(t0, stats.step_ts)

    @property
    def nfe(self) -> int:
        """Evaluations in the last forward pass (the local step's included)."""
        return 0 if self.stats is None else int(self.stats.nfe) + self.local_nfe

    @property
    def nfe_backward(self) -> int:
        """Evaluations of the adjoint backward pass of the last solve (0 without an adjoint
        or before ``backward``)."""
        return 0 if self.stats is None else int(getattr(self.stats, "nfe_backward", 0) or 0)
