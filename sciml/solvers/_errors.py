"""Exceptions raised while a solver runs (bad input raises ``ValueError``/``TypeError``)."""

__all__ = ["InstabilityError", "MaxStepsError", "SolverError", "StepSizeUnderflowError"]


class SolverError(RuntimeError):
    """A solve could not be completed."""


class StepSizeUnderflowError(SolverError):
    """The adaptive step size fell below what the time variable can resolve."""


class MaxStepsError(SolverError):
    """The solver took ``max_steps`` steps without reaching the final time."""


class InstabilityError(SolverError):
    """A fixed-step solution turned non-finite or grew through a step outside the
    method's stability interval (the step is too large for the problem)."""
