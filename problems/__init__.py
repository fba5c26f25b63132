"""Concrete problems built on the public sciml API; ``PROBLEMS`` maps names to classes."""

from .convection import Convection

PROBLEMS = {cls.name: cls for cls in (Convection,)}

__all__ = ["Convection", "PROBLEMS"]
