"""Shared base of the one-parameter 1-D conservation-law problems with closed forms
(``porous_medium``, ``convection.Advection``, ``burgers.BurgersRamp``)."""

from __future__ import annotations

import math

import torch

from sciml.pde import integrate
from sciml.problems import Problem
from sciml.validation import check_int, check_real, check_tensor

__all__ = ["ParametricLaw1D"]


def param_tensor(p) -> torch.Tensor:
    """A parameter as a float64 tensor of shape ``(n, 1, 1)`` (scalars give ``(1, 1, 1)``)."""
    return torch.as_tensor(p, dtype=torch.float64).reshape(-1, 1, 1)


def param_and_times(p, t) -> tuple[torch.Tensor, torch.Tensor]:
    """``(p, t)`` broadcast to ``(n, *t.shape)`` for mass formulas."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return torch.as_tensor(p, dtype=torch.float64).reshape(-1, *([1] * t.dim())), t


class ParametricLaw1D(Problem):
    """A 1-D conservation law ``u_t + (F(u) - k(u) u_x)_x = 0`` with one scalar parameter
    per sample and a closed-form solution.

    Subclasses set ``name``, ``x_range``, ``t_end``, ``param_name``, ``param_range``
    (``periodic``) and implement ``exact(param, t, x)``, ``mass(param, t)``,
    ``boundary_condition(param, t)`` and ``_scheme(p, cells)`` (a
    :class:`sciml.pde.FiniteVolume1D` for the parameters ``p`` of shape ``(n, 1)``), and
    ``flux`` and/or ``diffusivity``.
    """

    x_range: tuple[float, float]
    t_end: float
    param_name: str
    param_range: tuple[float, float]
    param_bounds: tuple[float, float | None] = (0.0, None)  # valid values: the open interval
    param_meaning = "the parameter"
    periodic = False

    def __init__(self, resolution: int = 201, n_times: int = 201, param_range=None):
        resolution = check_int("resolution", resolution, minimum=3)
        n_times = check_int("n_times", n_times, minimum=2)
        if param_range is not None and (not isinstance(param_range, (tuple, list)) or len(param_range) != 2):
            raise ValueError(f"param_range must be a pair (low, high), got {param_range!r}")
        lo, hi = self.param_range if param_range is None else (check_real("param_range[0]", param_range[0]),
                                                               check_real("param_range[1]", param_range[1]))
        if not lo <= hi:
            raise ValueError(f"param_range must be increasing (low <= high), got {tuple(param_range)}; swap the "
                             f"two values")
        self._check_param(torch.tensor([lo, hi]), "param_range")
        self.resolution, self.n_times, self.param_range = resolution, n_times, (lo, hi)

    # --------------------------------------------------------------- contract
    @property
    def domain(self) -> dict:
        return {"x": self.x_range, "t": (0.0, self.t_end)}

    def x(self) -> torch.Tensor:
        a, b = self.x_range
        if self.periodic:
            return a + (b - a) * torch.arange(self.resolution, dtype=torch.float64) / self.resolution
        return torch.linspace(a, b, self.resolution, dtype=torch.float64)

    def t(self) -> torch.Tensor:
        return torch.linspace(0.0, self.t_end, self.n_times, dtype=torch.float64)

    def parameters(self) -> dict:
        return {"resolution": self.resolution, "n_times": self.n_times, "param": self.param_name,
                "param_range": list(self.param_range)}

    def grid(self) -> dict:
        return {"x": self.x().numpy(), "t": self.t().numpy()}

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The parameter of each sample, uniform on ``param_range``, ``(n, 1)`` float64."""
        lo, hi = self.param_range
        return lo + (hi - lo) * torch.rand(check_int("n", n), 1, generator=generator, dtype=torch.float64)

    def solve(self, inputs: torch.Tensor) -> torch.Tensor:
        """The closed form on the grid, ``(n, n_times, resolution)`` float64."""
        p = self._check_param(self._check_inputs(inputs), "inputs")
        return self.exact(p, self.t()[:, None], self.x()[None, :])

    # --------------------------------------------------------------- equation
    def flux(self, param, u: torch.Tensor) -> torch.Tensor:
        """The advective flux ``F(u)`` (none by default)."""
        return torch.zeros_like(u)

    def diffusivity(self, param, u: torch.Tensor) -> torch.Tensor:
        """The diffusivity ``k(u)`` (none by default)."""
        return torch.zeros_like(u)

    def initial_condition(self, param, x: torch.Tensor) -> torch.Tensor:
        """``u(x, 0)`` per sample, ``(n, *x.shape)``."""
        x = torch.as_tensor(x, dtype=torch.float64)
        return self.exact(param, torch.zeros_like(x), x).reshape(-1, *x.shape)

    def residual(self, u_fn, param, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``u_t + (F(u) - k(u) u_x)_x`` at the points ``(t, x)`` for a differentiable
        ``u_fn(t, x)`` (e.g. a network), by autograd with ``create_graph=True`` (so it can
        be trained on). ``param`` broadcasts against ``u``. Zero for classical solutions;
        across shocks and degenerate fronts only the weak form holds."""
        t = t.detach().requires_grad_(True)
        x = x.detach().requires_grad_(True)
        u = u_fn(t, x)
        u_t, u_x = torch.autograd.grad(u.sum(), (t, x), create_graph=True)
        total = self.flux(param, u) - self.diffusivity(param, u) * u_x
        (total_x,) = torch.autograd.grad(total.sum(), x, create_graph=True)
        return u_t + total_x

    # --------------------------------------------------------------- finite volumes
    def solve_fv(self, inputs: torch.Tensor, cells: int = 200, cfl: float = 0.4, times=None) -> torch.Tensor:
        """Cell averages from finite volumes, ``(n, len(times), cells)`` (default times:
        the problem's grid), started from the closed form sampled at the cell centres at ``times[0]``."""
        p = self._check_param(self._check_inputs(inputs), "inputs").reshape(-1, 1)
        times = self.t() if times is None else torch.as_tensor(times, dtype=torch.float64)
        scheme = self._scheme(p, cells)
        xc = scheme.centers()
        if float(times[0]) > 0:
            u0 = self.exact(p[:, :, None], torch.tensor(float(times[0]), dtype=torch.float64), xc[None, :])[:, 0]
        else:
            u0 = self.initial_condition(p, xc)
        # refresh the CFL step often: boundary data and diffusivities change in time
        fine = torch.linspace(float(times[0]), float(times[-1]), 4 * (len(times) - 1) + 1, dtype=torch.float64)
        path = integrate(scheme, u0, fine, method="ssprk3", cfl=cfl)[::4]
        return path.movedim(0, 1)

    def _check_inputs(self, inputs) -> torch.Tensor:
        """``inputs`` as a floating tensor of one parameter per sample, ``(n, 1)`` or ``(n,)``."""
        layout = f"(n, 1) or (n,): one {self.param_name} per sample, as sample_inputs(n) returns"
        inputs = check_tensor("inputs", inputs, floating=True, layout=layout)
        if inputs.dim() not in (1, 2) or (inputs.dim() == 2 and inputs.shape[1] != 1):
            raise ValueError(f"inputs must have shape {layout}, got {tuple(inputs.shape)}")
        return inputs

    def _check_param(self, p, name: str = "inputs") -> torch.Tensor:
        """The parameter as float64, checked against the open interval ``param_bounds``
        (one host sync); ``name`` is the argument it came from."""
        p = torch.as_tensor(p, dtype=torch.float64)
        lo, hi = self.param_bounds
        if not bool((torch.isfinite(p) & (p > lo) & (p < (hi if hi is not None else math.inf))).all()):
            where = f"({lo}, {hi})" if hi is not None else f"> {lo}"
            raise ValueError(f"{name}: {self.param_name} ({self.param_meaning}) must be finite and {where}; got "
                             f"{p.flatten().tolist()[:4]}")
        return p


