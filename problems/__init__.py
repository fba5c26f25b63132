"""Concrete problems built on the public sciml API; ``PROBLEMS`` maps names to classes."""

from .burgers import Burgers
from .convection import Convection

PROBLEMS = {cls.name: cls for cls in (Burgers, Convection)}

__all__ = ["Burgers", "Convection", "PROBLEMS"]
