"""PDE building blocks on the solver core: periodic spectral grids, Sobolev norms
and Gaussian random fields."""

from ._grf import gaussian_random_field, grf_eigenvalues
from ._spectral import SpectralGrid

__all__ = ["SpectralGrid", "gaussian_random_field", "grf_eigenvalues"]
