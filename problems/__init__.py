"""Concrete problems built on the public sciml API; ``PROBLEMS`` maps names to classes."""

from .burgers import Burgers, BurgersRamp
from .convection import Advection, Convection
from .darcy import Darcy
from .navier_stokes import NavierStokes
from .populations import OUPopulation, Repressilator
from .porous_medium import Heat, PorousMedium, Stefan

PROBLEMS = {cls.name: cls for cls in (Advection, Burgers, BurgersRamp, Convection, Darcy, Heat, NavierStokes,
                                      OUPopulation, PorousMedium, Repressilator, Stefan)}

__all__ = ["Advection", "Burgers", "BurgersRamp", "Convection", "Darcy", "Heat", "NavierStokes",
           "OUPopulation", "PROBLEMS", "PorousMedium", "Repressilator", "Stefan"]
