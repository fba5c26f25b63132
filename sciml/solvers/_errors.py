"""Exceptions raised while a solver runs (bad input raises ``ValueError``/``TypeError``)."""

__all__ = ["SolverError", "StepSizeUnderflowError", "MaxStepsError"]


class SolverError(RuntimeError):
    """A solve could not be completed."""


class StepSizeUnderflowError(SolverError):
    """The adaptive step size fell below what the time variable can resolve."""


class MaxStepsError(SolverError):
    """The solver took ``max_steps`` steps without reaching the final time."""
