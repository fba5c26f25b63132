"""Physics-informed networks: embeddings and hard constraints, autodiff residuals,
collocation sampling, Adam + L-BFGS training through the Trainer, the Eulerian PINN
and the Lagrangian PINN for convection-dominated problems."""

from .autodiff import derivatives, gradient, laplacian, partial
from .eulerian import EulerianPINN
from .fit import FitResult, PINNObjective, fit
from .lagrangian import PRESETS, LagrangianPINN
from .metrics import relative_frobenius, relative_spectral, snapshot_singular_values
from .networks import MLP, FourierFeatures, PeriodicEmbedding, PINNNet, initial_condition_transform
from .sampling import ResidualResampler, grid, latin_hypercube, uniform

__all__ = ["EulerianPINN", "FitResult", "FourierFeatures", "LagrangianPINN", "MLP", "PINNNet", "PINNObjective",
           "PRESETS", "PeriodicEmbedding", "ResidualResampler", "derivatives", "fit", "gradient", "grid",
           "initial_condition_transform", "laplacian", "latin_hypercube", "partial", "relative_frobenius",
           "relative_spectral", "snapshot_singular_values", "uniform"]
