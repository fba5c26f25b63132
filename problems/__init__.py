"""Concrete problems built on the public sciml API; ``PROBLEMS`` maps names to classes."""

from .burgers import Burgers
from .convection import Convection
from .darcy import Darcy

PROBLEMS = {cls.name: cls for cls in (Burgers, Convection, Darcy)}

__all__ = ["Burgers", "Convection", "Darcy", "PROBLEMS"]
