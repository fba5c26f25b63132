"""One step of each SDE integrator.

An SDE ``dy = f(t, y) dt + g(t, y) dW`` follows torchsde's conventions: ``y`` has
shape ``(batch, d)``; ``g`` returns ``(batch, d)`` for diagonal noise (``W`` of
shape ``(batch, d)``), ``(batch, d, 1)`` for scalar noise (``W`` of shape
``(batch, 1)``) and ``(batch, d, m)`` for additive or general noise (``W`` of
shape ``(batch, m)``).

Every method is a class with its order, the SDE types and noise types it solves,
and ``step(sde, t, dt, y, dW, H, state) -> (y1, state)``, where ``t`` and ``dt``
are 0-d tensors, ``dW = W(t + dt) - W(t)`` and ``H`` the space-time Lévy area
(only for methods with ``levy_area = True``).
"""

from __future__ import annotations

import torch

__all__ = ["METHODS", "SDEMethod", "noise_product"]


ITO, STRATONOVICH = ("ito",), ("stratonovich",)
ALL_NOISE = ("diagonal", "scalar", "additive", "general")
COMMUTATIVE = ("diagonal", "scalar", "additive")


class SDEMethod:
    """A method as data: subclasses declare, in the class statement, ``name``, the
    ``sde_types`` and ``noise_types`` they solve, their ``strong_order`` and whether a
    step needs the space-time Lévy area ``H`` (``levy_area``), and implement ``step``."""

    name: str
    sde_types: tuple[str, ...]
    noise_types: tuple[str, ...]
    strong_order: float
    levy_area: bool

    def __init_subclass__(cls, *, name: str, sde_types: tuple[str, ...], strong_order: float,
                          noise_types: tuple[str, ...] = ALL_NOISE, levy_area: bool = False):
        super().__init_subclass__()
        cls.name, cls.sde_types, cls.noise_types = name, sde_types, noise_types
        cls.strong_order, cls.levy_area = strong_order, levy_area


def noise_product(g: torch.Tensor, dW: torch.Tensor, noise_type: str) -> torch.Tensor:
    """``g dW`` for each noise type: ``(batch, d)``."""
    if noise_type == "diagonal":
        return g * dW
    if noise_type == "scalar":
        return g.squeeze(-1) * dW
    return torch.bmm(g, dW.unsqueeze(-1)).squeeze(-1)


def _g_dg(sde, t, y, g):
    """``(d g / d y) g``: the Milstein correction for commutative noise.

    Diagonal noise assumes ``g_i`` depends on ``y_i`` only (torchsde's contract), so
    the Jacobian is diagonal and the correction is the vector-Jacobian product
    ``g^T (d g / d y)``, one reverse pass (differentiable when gradients flow through
    the solver). Scalar noise needs the Jacobian-vector product, by forward mode."""
    if sde.noise_type == "diagonal":
        differentiable = torch.is_grad_enabled()
        if differentiable and y.requires_grad:
            return torch.autograd.grad(g, y, g, create_graph=True)[0]
        with torch.enable_grad():
            x = y.detach().requires_grad_(True)
            gx = sde.g(t, x)
            return torch.autograd.grad(gx, x, gx if differentiable else gx.detach(), create_graph=differentiable)[0]
    _, jvp = torch.func.jvp(lambda x: sde.g(t, x), (y,), (g.squeeze(-1),))
    return jvp.squeeze(-1)


class Euler(SDEMethod, name="euler", sde_types=ITO, strong_order=0.5):
    """Euler–Maruyama (Itô): ``y1 = y + f dt + g dW``. Strong order 0.5 (1.0 for
    additive noise), weak order 1."""


    @staticmethod
    def step(sde, t, dt, y, dW, H, state):
        drift = torch.addcmul(y, sde.f(t, y), dt)
        g = sde.g(t, y)
        if sde.noise_type == "diagonal":
            return torch.addcmul(drift, g, dW), state
        return drift + noise_product(g, dW, sde.noise_type), state


class Milstein(SDEMethod, name="milstein", sde_types=ITO + STRATONOVICH, strong_order=1.0,
               noise_types=COMMUTATIVE):
    """Milstein's method for commutative noise:
    ``y1 = y + f dt + g dW + 1/2 (g' g) (dW^2 - dt)`` (Itô) or ``... + 1/2 (g' g) dW^2``
    (Stratonovich). Strong order 1.0 (Kloeden & Platen, Sec. 10.3)."""


    @staticmethod
    def step(sde, t, dt, y, dW, H, state):
        g = sde.g(t, y)
        y1 = y + sde.f(t, y) * dt + noise_product(g, dW, sde.noise_type)
        if sde.noise_type == "additive":
            return y1, state
        square = dW * dW if sde.sde_type == "stratonovich" else dW * dW - dt
        return y1 + 0.5 * _g_dg(sde, t, y, g) * square, state


class Heun(SDEMethod, name="heun", sde_types=STRATONOVICH, strong_order=0.5):
    """Stochastic Heun (Stratonovich): predictor ``y~ = y + f dt + g dW``, then
    ``y1 = y + (f + f~) dt / 2 + (g + g~) dW / 2``. Strong order 0.5 in general, 1.0
    for additive or commutative noise."""


    @staticmethod
    def step(sde, t, dt, y, dW, H, state):
        y1, state, _ = Heun.step_with_error(sde, t, dt, y, dW, H, state)
        return y1, state

    @staticmethod
    def step_with_error(sde, t, dt, y, dW, H, state):
        """The step and its embedded error estimate ``y1 - y~`` (Heun minus the Euler
        predictor), as diffrax's Heun: free, and what adaptive stepping controls."""
        f0, g0 = sde.f(t, y), sde.g(t, y)
        pred = y + f0 * dt + noise_product(g0, dW, sde.noise_type)
        t1 = t + dt
        f1, g1 = sde.f(t1, pred), sde.g(t1, pred)
        y1 = y + 0.5 * (f0 + f1) * dt + noise_product(0.5 * (g0 + g1), dW, sde.noise_type)
        return y1, state, y1 - pred


class Midpoint(SDEMethod, name="midpoint", sde_types=STRATONOVICH, strong_order=0.5):
    """Stochastic midpoint rule (Stratonovich): ``y_m = y + f dt / 2 + g dW / 2``,
    ``y1 = y + f(y_m) dt + g(y_m) dW``. Strong order 0.5 in general, 1.0 for
    additive or commutative noise."""


    @staticmethod
    def step(sde, t, dt, y, dW, H, state):
        mid = y + 0.5 * sde.f(t, y) * dt + noise_product(sde.g(t, y), 0.5 * dW, sde.noise_type)
        tm = t + 0.5 * dt
        return y + sde.f(tm, mid) * dt + noise_product(sde.g(tm, mid), dW, sde.noise_type), state


class ReversibleHeun(SDEMethod, name="reversible_heun", sde_types=STRATONOVICH, strong_order=0.5):
    """Reversible Heun (Stratonovich; Kidger, Foster, Li & Lyons, ICML 2021,
    "Efficient and accurate gradients for neural SDEs", Alg. 1). With the extra
    state ``(z, f(z), g(z))``::

        z1 = 2 y - z + f(z) dt + g(z) dW
        y1 = y + (f(z) + f(z1)) dt / 2 + (g(z) + g(z1)) dW / 2

    The map ``(y, z) -> (y1, z1)`` is algebraically invertible, which gives exact
    gradients of the discrete solution in O(1) memory. One evaluation of f and g per
    step. Strong order 0.5 (1.0 for additive noise)."""


    @staticmethod
    def init_state(sde, t, y):
        return y, sde.f(t, y), sde.g(t, y)

    @staticmethod
    def step(sde, t, dt, y, dW, H, state):
        z, fz, gz = state
        z1 = 2 * y - z + fz * dt + noise_product(gz, dW, sde.noise_type)
        t1 = t + dt
        f1, g1 = sde.f(t1, z1), sde.g(t1, z1)
        y1 = y + 0.5 * (fz + f1) * dt + noise_product(0.5 * (gz + g1), dW, sde.noise_type)
        return y1, (z1, f1, g1)

    @staticmethod
    def inverse_z(sde, dt, y1, dW, state1):
        """The extra state ``z`` at ``t`` from ``(y1, z1, f1, g1)`` at ``t + dt``:
        ``z = 2 y1 - z1 - f(z1) dt - g(z1) dW`` (exact algebra, no solve)."""
        z1, f1, g1 = state1
        return 2 * y1 - z1 - f1 * dt - noise_product(g1, dW, sde.noise_type)

    @staticmethod
    def inverse_y(sde, dt, y1, dW, f0, g0, state1):
        """``y = y1 - (f(z) + f(z1)) dt / 2 - (g(z) + g(z1)) dW / 2``."""
        _, f1, g1 = state1
        return y1 - 0.5 * (f0 + f1) * dt - noise_product(0.5 * (g0 + g1), dW, sde.noise_type)


# Rößler (2010), SIAM J. Numer. Anal. 48(3):922-952: SRA1 (additive noise) and SRID2 (diagonal
# noise, Itô), both strong order 1.5. Coefficients as tabulated in the paper.
_SRA1 = dict(c0=(0.0, 0.75), c1=(1.0, 0.0), a0=((), (0.75,)), b0=((), (1.5,)), alpha=(1 / 3, 2 / 3),
             beta1=(1.0, 0.0), beta2=(-1.0, 1.0))
_SRID2 = dict(
    c0=(0.0, 1.0, 0.5, 0.0), c1=(0.0, 0.25, 1.0, 0.25),
    a0=((), (1.0,), (0.25, 0.25), (0.0, 0.0, 0.0)), a1=((), (0.25,), (1.0, 0.0), (0.0, 0.0, 0.25)),
    b0=((), (0.0,), (1.0, 0.5), (0.0, 0.0, 0.0)), b1=((), (-0.5,), (1.0, 0.0), (2.0, -1.0, 0.5)),
    alpha=(1 / 6, 1 / 6, 2 / 3, 0.0), beta1=(-1.0, 4 / 3, 2 / 3, 0.0), beta2=(1.0, -4 / 3, 1 / 3, 0.0),
    beta3=(2.0, -4 / 3, -2 / 3, 0.0), beta4=(-2.0, 5 / 3, -2 / 3, 1.0),
)


class SRK(SDEMethod, name="srk", sde_types=ITO, strong_order=1.5, noise_types=COMMUTATIVE, levy_area=True):
    """Stochastic Runge–Kutta of strong order 1.5 (Itô): Rößler's SRA1 for additive
    noise and SRID2 for diagonal or scalar noise. Uses ``I_(1,0) = dt (dW / 2 + H)``
    from the space-time Lévy area ``H``, ``I_(1,1) = (dW^2 - dt) / 2`` and
    ``I_(1,1,1) = (dW^3 - 3 dt dW) / 6``."""


    @staticmethod
    def step(sde, t, dt, y, dW, H, state):
        if sde.noise_type == "additive":
            return SRK._additive(sde, t, dt, y, dW, H), state
        return SRK._diagonal(sde, t, dt, y, dW, H), state

    @staticmethod
    def _additive(sde, t, dt, y, dW, H):
        tab = _SRA1
        i10 = dt * (0.5 * dW + H)
        stages, y1 = [], y
        for i in range(2):
            h0 = y
            for j in range(i):
                h0 = (h0 + tab["a0"][i][j] * sde.f(t + tab["c0"][j] * dt, stages[j]) * dt
                      + noise_product(sde.g(t + tab["c1"][j] * dt, y), tab["b0"][i][j] * i10 / dt, "additive"))
            stages.append(h0)
            weight = tab["beta1"][i] * dW + tab["beta2"][i] * i10 / dt
            y1 = (y1 + tab["alpha"][i] * sde.f(t + tab["c0"][i] * dt, h0) * dt
                  + noise_product(sde.g(t + tab["c1"][i] * dt, y), weight, "additive"))
        return y1

    @staticmethod
    def _diagonal(sde, t, dt, y, dW, H):
        tab = _SRID2
        sqrt_dt = dt.sqrt()
        i10 = dt * (0.5 * dW + H)
        i11 = 0.5 * (dW * dW - dt)
        i111 = (dW * dW * dW - 3 * dt * dW) / 6

        def g_of(s, x):
            g = sde.g(s, x)
            return g.squeeze(-1) if g.dim() == 3 else g

        h0s, h1s, y1 = [], [], y
        for s in range(4):
            h0, h1 = y, y
            for j in range(s):
                f = sde.f(t + tab["c0"][j] * dt, h0s[j])
                g = g_of(t + tab["c1"][j] * dt, h1s[j])
                h0 = h0 + tab["a0"][s][j] * f * dt + tab["b0"][s][j] * g * i10 / dt
                h1 = h1 + tab["a1"][s][j] * f * dt + tab["b1"][s][j] * g * sqrt_dt
            h0s.append(h0)
            h1s.append(h1)
            weight = (tab["beta1"][s] * dW + tab["beta2"][s] * i11 / sqrt_dt + tab["beta3"][s] * i10 / dt
                      + tab["beta4"][s] * i111 / dt)
            y1 = y1 + tab["alpha"][s] * sde.f(t + tab["c0"][s] * dt, h0) * dt + g_of(t + tab["c1"][s] * dt, h1) * weight
        return y1


METHODS = {m.name: m for m in (Euler, Milstein, SRK, Heun, Midpoint, ReversibleHeun)}
