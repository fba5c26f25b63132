"""Explicit Runge--Kutta methods as data: Butcher tableaux, embedded error weights
and dense-output polynomials.

A method is a frozen :class:`ButcherTableau`; the single RK engine in ``_rk.py``
runs all of them. For ``s`` stages::

    g_i = y_n + h * sum_{j<i} a_ij k_j,      k_i = f(t_n + c_i h, g_i)
    y_{n+1} = y_n + h * sum_i b_i k_i
    err     = h * sum_i e_i k_i              (e = b - b_hat, embedded methods only)

Dense output on a step is ``y(t_n + theta h) = y_n + h * sum_i b_i(theta) k_i`` with
``b_i(theta) = sum_p dense[i, p] theta^(p+1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction as F

import numpy as np
import torch

__all__ = ["ButcherTableau", "TABLEAUX"]


@dataclass(frozen=True, eq=False)
class ButcherTableau:
    """An explicit Runge--Kutta method.

    Attributes:
        name: the method name used by ``solve_ode(method=...)``.
        c: stage abscissae, shape ``(s,)``.
        a: stage weights, shape ``(s, s)``, strictly lower triangular.
        b: weights of the propagated solution, shape ``(s,)``.
        order: classical order of the propagated solution.
        error_weights: ``b - b_hat`` of the embedded pair, or ``None``.
        error_order: ``q`` in the step-size controller ``h E^(-1/q)``: the order of
            the embedded (lower-order) solution plus one.
        fsal: the last stage is evaluated at ``(t_{n+1}, y_{n+1})`` and is reused as
            the first stage of the next step.
        dense: dense-output polynomial coefficients, shape ``(s, degree)``, or
            ``None`` (fixed-step methods step onto the requested times instead).
        dense_order: order of the dense output (local error ``O(h^(dense_order+1))``).
        stability_size: where the real-axis stability interval ends, ``|R(-x)| = 1``.
        reference: the source of the coefficients.
    """

    name: str
    c: np.ndarray
    a: np.ndarray
    b: np.ndarray
    order: int
    error_weights: np.ndarray | None = None
    error_order: int | None = None
    fsal: bool = False
    dense: np.ndarray | None = None
    dense_order: int | None = None
    stability_size: float | None = None
    reference: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.error_weights is not None

    @property
    def stiffness_pair(self) -> tuple[int, int] | None:
        """The last two stages sharing an abscissa: their difference quotient
        ``|k_i - k_j| / |g_i - g_j|`` estimates the dominant |eigenvalue| of the
        Jacobian (Hairer & Wanner, Solving ODEs II, Sec. IV.2)."""
        for j in range(self.stages - 1, 0, -1):
            for i in range(j - 1, -1, -1):
                if self.c[i] == self.c[j] and self.c[j] != 0:
                    return i, j
        return None

    def tensors(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        """The tableau as tensors of the given dtype and device (cached)."""
        key = (dtype, device)
        if key not in self._cache:
            def t(x):
                return None if x is None else torch.as_tensor(x, dtype=dtype, device=device)

            def row(x):
                return None if x is None else t(x).unsqueeze(0)

            self._cache[key] = {
                "c": self.c.tolist(),
                "a": [row(self.a[i, :i]) for i in range(self.stages)],  # (1, i)
                "b": row(self.b),  # (1, s)
                "e": row(self.error_weights),  # (1, s)
                "dense": t(self.dense),  # (s, degree)
            }
        return self._cache[key]


def _arr(rows) -> np.ndarray:
    return np.array([[float(x) for x in r] for r in rows], dtype=np.float64)


def _lower(rows: list[list], s: int) -> np.ndarray:
    a = np.zeros((s, s))
    for i, r in enumerate(rows, start=1):
        a[i, : len(r)] = [float(x) for x in r]
    return a


def _hermite_dense(b: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolant of an FSAL method in ``b_i(theta)`` form.

    With ``y1 = y0 + h sum b_i k_i``, ``f0 = k_1`` and ``f1 = k_s``, the Hermite
    cubic through (y0, f0, y1, f1) is ``y0 + h sum_i b_i(theta) k_i`` with
    ``b_i = h01 b_i + h10 delta_i1 + h11 delta_is`` (third-order accurate)."""
    s = len(b)
    dense = np.zeros((s, 3))
    h01 = np.array([0.0, 3.0, -2.0])  # coefficients of theta, theta^2, theta^3
    h10 = np.array([1.0, -2.0, 1.0])
    h11 = np.array([0.0, -1.0, 1.0])
    dense += np.outer(b, h01)
    dense[0] += h10
    dense[-1] += h11
    return dense


def _quartic_dense(b: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Quartic through y0, y1, f0 = k_1, f1 = k_s and y(1/2) = y0 + h sum mid_i k_i.

    Fitting ``p(theta) = y0 + c1 theta + ... + c4 theta^4`` to those five conditions
    and substituting the stage expressions gives ``b_i(theta)`` in closed form."""
    s = len(b)
    d0 = np.zeros(s)
    d0[0] = 1.0
    d1 = np.zeros(s)
    d1[-1] = 1.0
    return np.stack(
        [
            d0,
            d1 - 4 * d0 - 5 * b + 16 * mid,
            5 * d0 - 3 * d1 + 14 * b - 32 * mid,
            2 * d1 - 2 * d0 - 8 * b + 16 * mid,
        ],
        axis=1,
    )


def _poly_dense(factored: list[np.poly1d]) -> np.ndarray:
    """Stack polynomials b_i(theta) (with b_i(0) = 0) into ``(s, degree)`` form."""
    degree = max(p.order for p in factored)
    dense = np.zeros((len(factored), degree))
    for i, p in enumerate(factored):
        coeffs = p.coeffs[::-1]  # ascending powers
        if abs(coeffs[0]) > 1e-14:
            raise ValueError("dense-output polynomials must vanish at theta = 0")
        dense[i, : len(coeffs) - 1] = coeffs[1:]
    return dense


EULER = ButcherTableau(
    name="euler", c=np.array([0.0]), a=np.zeros((1, 1)), b=np.array([1.0]), order=1,
    stability_size=2.0, reference="Euler (1768)",
)

MIDPOINT = ButcherTableau(
    name="midpoint", c=np.array([0.0, 0.5]), a=_lower([[F(1, 2)]], 2), b=np.array([0.0, 1.0]),
    order=2, stability_size=2.0, reference="explicit midpoint rule (Runge 1895)",
)

HEUN = ButcherTableau(
    name="heun", c=np.array([0.0, 1.0]), a=_lower([[1]], 2), b=np.array([0.5, 0.5]), order=2,
    stability_size=2.0,
    reference="Heun (1900), explicit trapezoidal rule; also SSP-RK2 of Shu & Osher (1988), SSP coefficient 1",
)

RK4 = ButcherTableau(
    name="rk4", c=np.array([0.0, 0.5, 0.5, 1.0]),
    a=_lower([[F(1, 2)], [0, F(1, 2)], [0, 0, 1]], 4),
    b=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]), order=4,
    stability_size=2.785293563405282, reference="Kutta (1901), the classical fourth-order method",
)

# Shu & Osher's convex-combination form u1 = u + h L(u), u2 = 3/4 u + 1/4 (u1 + h L(u1)),
# u_new = 1/3 u + 2/3 (u2 + h L(u2)) written as a Butcher tableau. Any explicit 3-stage,
# third-order method has R(z) = 1 + z + z^2/2 + z^3/6, hence the stability size of bosh3.
SSPRK3 = ButcherTableau(
    name="ssprk3", c=np.array([0.0, 1.0, 0.5]),
    a=_lower([[1], [F(1, 4), F(1, 4)]], 3),
    b=np.array([1 / 6, 1 / 6, 2 / 3]), order=3, stability_size=2.5127453266183286,
    reference="Shu & Osher, J. Comput. Phys. 77(2):439-471 (1988), eq. 2.18: strong-stability-preserving "
    "with SSP coefficient 1 (Gottlieb & Shu, Math. Comp. 67(221):73-85, 1998)",
)

_BS3_B = np.array([2 / 9, 1 / 3, 4 / 9, 0.0])
BOSH3 = ButcherTableau(
    name="bosh3", c=np.array([0.0, 0.5, 0.75, 1.0]),
    a=_lower([[F(1, 2)], [0, F(3, 4)], [F(2, 9), F(1, 3), F(4, 9)]], 4),
    b=_BS3_B, order=3,
    error_weights=_BS3_B - np.array([7 / 24, 1 / 4, 1 / 3, 1 / 8]), error_order=3, fsal=True,
    dense=_hermite_dense(_BS3_B), dense_order=3, stability_size=2.5127453266183286,
    reference="Bogacki & Shampine, Appl. Math. Lett. 2(4):321-325 (1989); Hermite dense output",
)

_DP5_B = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0])
_DP5_B_HAT = np.array([5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40])
# Shampine's (1986) coefficients of y(t_n + h/2), which make the dense output fourth order.
_DP5_MID = 0.5 * np.array([
    6025192743 / 30085553152, 0, 51252292925 / 65400821598, -2691868925 / 45128329728,
    187940372067 / 1594534317056, -1776094331 / 19743644256, 11237099 / 235043384,
])
DOPRI5 = ButcherTableau(
    name="dopri5", c=np.array([0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]),
    a=_lower([
        [F(1, 5)],
        [F(3, 40), F(9, 40)],
        [F(44, 45), F(-56, 15), F(32, 9)],
        [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
        [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)],
        [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84)],
    ], 7),
    b=_DP5_B, order=5, error_weights=_DP5_B - _DP5_B_HAT, error_order=5, fsal=True,
    dense=_quartic_dense(_DP5_B, _DP5_MID), dense_order=4, stability_size=3.3066,
    reference="Dormand & Prince, J. Comput. Appl. Math. 6(1):19-26 (1980); dense output "
    "from Shampine, Math. Comp. 46(173):135-150 (1986)",
)

_TS5_A = [
    [0.161],
    [-0.008480655492356988544426874250230774675121177393430391537369234245294192976164141156943,
     0.3354806554923569885444268742502307746751211773934303915373692342452941929761641411569],
    [2.897153057105493432130432594192938764924887287701866490314866693455023795137503079289,
     -6.359448489975074843148159912383825625952700647415626703305928850207288721235210244366,
     4.362295432869581411017727318190886861027813359713760212991062156752264926097707165077],
    [5.325864828439256604428877920840511317836476253097040101202360397727981648835607691791,
     -11.74888356406282787774717033978577296188744178259862899288666928009020615663593781589,
     7.495539342889836208304604784564358155658679161518186721010132816213648793440552049753,
     -0.09249506636175524925650207933207191611349983406029535244034750452930469056411389539635],
    [5.861455442946420028659251486982647890394337666164814434818157239052507339770711679748,
     -12.92096931784710929170611868178335939541780751955743459166312250439928519268343184452,
     8.159367898576158643180400794539253485181918321135053305748355423955009222648673734986,
     -0.07158497328140099722453054252582973869127213147363544882721139659546372402303777878835,
     -0.02826905039406838290900305721271224146717633626879770007617876201276764571291579142206],
]
_TS5_B = np.array([
    0.09646076681806522951816731316512876333711995238157997181903319145764851595234062815396,
    0.01,
    0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
    1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
    -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
    2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841,
    0.0,
])
_TS5_B_HAT = np.array([
    0.09468075576583945807478876255758922856117527357724631226139574065785592789071067303271,
    0.009183565540343253096776363936645313759813746240984095238905939532922955247253608687270,
    0.4877705284247615707855642599631228241516691959761363774365216240304071651579571959813,
    1.234297566930478985655109673884237654035539930748192848315425833500484878378061439761,
    -2.707712349983525454881109975059321670689605166938197378763992255714444407154902012702,
    1.866628418170587035753719399566211498666255505244122593996591602841258328965767580089,
    1 / 66,
])
_P = np.poly1d
_T = _P([1.0, 0.0])  # theta
_TS5_DENSE = _poly_dense([
    -1.0530884977290216 * _T * _P([1, -1.3299890189751412]) * _P([1, -1.4364028541716351, 0.7139816917074209]),
    0.1017 * _T**2 * _P([1, -2.1966568338249754, 1.2949852507374631]),
    2.490627285651252793 * _T**2 * _P([1, -2.38535645472061657, 1.57803468208092486]),
    -16.54810288924490272 * _P([1, -1.21712927295533244]) * _P([1, -0.61620406037800089]) * _T**2,
    47.37952196281928122 * _P([1, -1.203071208372362603]) * _P([1, -0.658047292653547382]) * _T**2,
    -34.87065786149660974 * _P([1, -1.2]) * _P([1, -2 / 3]) * _T**2,
    2.5 * _P([1, -1.0]) * _P([1, -0.6]) * _T**2,
])
TSIT5 = ButcherTableau(
    name="tsit5", c=np.array([0, 0.161, 0.327, 0.9, 0.9800255409045096857298102862870245954942137979563024768854764293221195950761080302604, 1, 1]),
    a=_lower(_TS5_A + [list(_TS5_B[:6])], 7),
    b=_TS5_B, order=5, error_weights=_TS5_B - _TS5_B_HAT, error_order=5, fsal=True,
    dense=_TS5_DENSE, dense_order=4, stability_size=3.5068,
    reference="Tsitouras, Comput. Math. Appl. 62(2):770-775 (2011); interpolant from the same paper",
)

TABLEAUX: dict[str, ButcherTableau] = {
    tab.name: tab for tab in (EULER, MIDPOINT, HEUN, SSPRK3, RK4, BOSH3, DOPRI5, TSIT5)
}
