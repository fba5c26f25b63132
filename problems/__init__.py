"""Concrete problems built on the public sciml API; ``PROBLEMS`` maps names to classes."""

from .burgers import Burgers
from .convection import Convection
from .darcy import Darcy
from .navier_stokes import NavierStokes

PROBLEMS = {cls.name: cls for cls in (Burgers, Convection, Darcy, NavierStokes)}

__all__ = ["Burgers", "Convection", "Darcy", "NavierStokes", "PROBLEMS"]
