"""BrownianPath (virtual Brownian tree): replay, the law of increments, Brownian-bridge
statistics, the space-time Lévy area, the documented within-leaf approximation,
dtype/device and errors at the boundary.

Statistics run in float64 on N = 20000 independent elements (``shape=(N,)``). A sample
mean of unit-variance terms has standard error 1/sqrt(N) = 0.0071, a sample variance
of normals sqrt(2/N) = 0.010; tolerances are 4 standard errors (``SE4_*``), KS tests
need p > 1e-3. Seeds are fixed, so every check is deterministic.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from sciml.solvers._brownian import BrownianPath

N = 20_000
SE4_MEAN = 4 / math.sqrt(N)  # 4 standard errors of a mean (and of a correlation) of N terms
SE4_VAR = 4 * math.sqrt(2 / N)  # 4 standard errors of the variance of N unit normals
KS_P = 1e-3
TIMES = [0.0, 0.05, 0.25, 0.3, 0.45, 0.5, 0.7131, 0.75, 0.9, 1.0]  # dyadic and not
LEVY = [False, True]
# The default tree (depth 20) and a coarse one (tol = 1/4, leaves are quarters): the laws
# below are exact in both because no two times of one check share a leaf, and the
# coarse tree exposes the within-leaf draws.
TOLS = [None, 0.25]


def path(levy_area=False, seed=0, shape=(N,), **kw):
    return BrownianPath(0.0, 1.0, shape, seed=seed, dtype=torch.float64, levy_area=levy_area, **kw)


def corr(x, y):
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()))


def check_unit_normal(x, what):
    """``x`` (N,) standardised samples: variance 1 within 4 SE, KS against N(0, 1)."""
    x = x.numpy()
    assert abs(x.var() - 1) < SE4_VAR, f"{what}: variance ratio {x.var():.4f}"
    p = stats.kstest(x, "norm").pvalue
    assert p > KS_P, f"{what}: KS p = {p:.2e}"


# ------------------------------------------------------------------ replay
@pytest.mark.parametrize("levy", LEVY)
def test_values_are_a_pure_function_of_seed_and_time(levy):
    bm, fresh = path(levy, seed=3, shape=(64,)), path(levy, seed=3, shape=(64,))
    forward = [bm(t) for t in TIMES]
    backward = [fresh(t) for t in reversed(TIMES)][::-1]
    for t, a, b in zip(TIMES, forward, backward):
        assert torch.equal(a, b), f"W({t}) depends on the query order or the object"
        assert torch.equal(bm(t), a), f"re-querying W({t}) changed it"
    assert torch.equal(forward[0], torch.zeros(64, dtype=torch.float64))  # W(t0) = 0 exactly
    other = path(levy, seed=4, shape=(64,))
    for t in TIMES[1:]:
        assert not torch.any(other(t) == bm(t)), f"seeds 3 and 4 share values at t={t}"
    # element i depends on (seed, i) only: a larger shape extends a smaller one (row-major)
    wider = path(levy, seed=3, shape=(5, 13))
    assert torch.equal(wider(0.7131).flatten()[:64], forward[TIMES.index(0.7131)])
    assert torch.equal(wider.increments(TIMES).flatten(1)[:, :64], bm.increments(TIMES))


@pytest.mark.parametrize("levy", LEVY)
def test_increments_equal_the_per_interval_calls(levy):
    bm = path(levy, seed=5, shape=(7, 3))
    grid = TIMES
    inc = bm.increments(grid)
    assert inc.shape == (len(grid) - 1, 7, 3)
    per = torch.stack([bm(a, b) for a, b in zip(grid[:-1], grid[1:])])
    # one vectorised pass vs one pass per interval: equal to float64 round-off
    assert torch.allclose(inc, per, rtol=0, atol=1e-14)
    # increments are differences of values, to round-off (values are O(1) here)
    values = torch.stack([bm(t) for t in grid])
    assert torch.allclose(inc, values[1:] - values[:-1], rtol=0, atol=1e-13)
    # a tensor grid gives the same as a list; repeated times give zero increments
    assert torch.equal(bm.increments(torch.tensor(grid, dtype=torch.float64)), inc)
    assert torch.equal(bm.increments([0.3, 0.3, 0.7131])[0], torch.zeros(7, 3, dtype=torch.float64))
    if levy:
        dw, h = bm.increments_with_levy_area(grid)
        per_h = torch.stack([bm.space_time_levy_area(a, b) for a, b in zip(grid[:-1], grid[1:])])
        assert torch.allclose(dw, per, rtol=0, atol=1e-14)
        assert torch.allclose(h, per_h, rtol=0, atol=1e-14)  # round-off
        assert torch.equal(bm.space_time_levy_area(0.3, 0.3), torch.zeros(7, 3, dtype=torch.float64))


# ------------------------------------------------------------------ law
@pytest.mark.parametrize("tol", TOLS)
@pytest.mark.parametrize("levy", LEVY)
def test_increments_over_disjoint_intervals_are_independent_normals(levy, tol):
    bm = path(levy, seed=11, tol=tol)
    grid = [0.0, 0.3, 0.7131, 0.75, 0.7501, 1.0]  # non-dyadic, dyadic, and a 1e-4 step
    inc = bm.increments(grid)
    for i, (a, b) in enumerate(zip(grid[:-1], grid[1:])):
        assert abs(float(inc[i].mean())) / math.sqrt(b - a) < SE4_MEAN, f"mean of W({b}) - W({a})"
        check_unit_normal(inc[i] / math.sqrt(b - a), f"W({b}) - W({a})")
        for j in range(i):
            assert abs(corr(inc[i], inc[j])) < SE4_MEAN, f"intervals {j} and {i} are correlated"


@pytest.mark.parametrize("tol", TOLS)
@pytest.mark.parametrize("levy", LEVY)
def test_brownian_bridge_statistics(levy, tol):
    """Given W(a), W(b), W(s) has mean W(a) + (s-a)/(b-a) (W(b) - W(a)) and variance
    (s-a)(b-s)/(b-a), and the residual is uncorrelated with W(a) and W(b)."""
    bm = path(levy, seed=12, tol=tol)
    for a, s, b in [(0.2, 0.3371, 0.55), (0.25, 0.375, 0.5), (0.45, 0.61, 0.8)]:
        wa, ws, wb = bm(a), bm(s), bm(b)
        resid = ws - (wa + (s - a) / (b - a) * (wb - wa))
        sd = math.sqrt((s - a) * (b - s) / (b - a))
        assert abs(float(resid.mean())) / sd < SE4_MEAN, (a, s, b)
        check_unit_normal(resid / sd, f"bridge residual at {s} in [{a}, {b}]")
        assert abs(corr(resid, wa)) < SE4_MEAN and abs(corr(resid, wb)) < SE4_MEAN, (a, s, b)


def test_coarse_tree_is_exact_across_leaves_and_approximate_inside_one():
    """tol=0.25: leaves are quarters. Times in different leaves have the exact joint
    law; two times in one leaf get the documented increment variance
    (t-s)^2/h + h (sqrt(p_t q_t) - sqrt(p_s q_s))^2 instead of t - s."""
    bm = path(seed=13, tol=0.25)
    assert bm.depth == 2 and bm.tol == 0.25
    w = {t: bm(t) for t in (0.1, 0.2, 0.3, 0.7131)}
    check_unit_normal(w[0.3] / math.sqrt(0.3), "W(0.3), a single time inside a leaf")
    check_unit_normal((w[0.7131] - w[0.3]) / math.sqrt(0.4131), "W(0.7131) - W(0.3) across leaves")
    check_unit_normal((w[0.3] - w[0.2]) / math.sqrt(0.1), "W(0.3) - W(0.2) across leaves")
    h = 0.25
    s, t = 0.1, 0.2  # both in the leaf [0, 0.25]
    ps, pt = s / h, t / h
    documented = (t - s) ** 2 / h + h * (math.sqrt(pt * (1 - pt)) - math.sqrt(ps * (1 - ps))) ** 2
    got = float((w[t] - w[s]).var())
    assert abs(got / documented - 1) < SE4_VAR, f"within-leaf variance {got:.5f} vs documented {documented:.5f}"
    assert abs(documented / (t - s) - 1) > 0.5  # ... which really differs from the exact t - s = 0.1


# ------------------------------------------------------------------ Lévy area
@pytest.mark.parametrize("tol", TOLS)
def test_levy_area_law(tol):
    """H_(a,b) ~ N(0, (b-a)/12), uncorrelated with W(b) - W(a) and across disjoint
    intervals, from the vectorised grid call."""
    bm = path(True, seed=21, tol=tol)
    grid = [0.0, 0.25, 0.3, 0.7131, 0.7141 if tol is None else 0.9, 1.0]
    dw, h = bm.increments_with_levy_area(grid)
    for i, (a, b) in enumerate(zip(grid[:-1], grid[1:])):
        check_unit_normal(h[i] / math.sqrt((b - a) / 12), f"H over [{a}, {b}]")
        assert abs(corr(h[i], dw[i])) < SE4_MEAN, f"H and dW over [{a}, {b}] are correlated"
        for j in range(i):
            assert abs(corr(h[i], h[j])) < SE4_MEAN and abs(corr(h[i], dw[j])) < SE4_MEAN, (i, j)


def test_levy_area_additivity_to_round_off():
    """From (b-a) H_ab + (b-a)/2 dW_ab = int_a^b (W_s - W_a) ds, for a < m < b:
    (b-a) H_ab = (m-a) H_am + (b-m) H_mb + ((b-m) dW_am - (m-a) dW_mb) / 2."""
    bm = path(True, seed=22, shape=(256,))
    for a, m, b in [(0.3, 0.45, 0.7131), (0.0, 0.5, 1.0), (0.25, 0.2500001, 0.26)]:
        h_ab, h_am, h_mb = (bm.space_time_levy_area(*iv) for iv in [(a, b), (a, m), (m, b)])
        w_am, w_mb = bm(a, m), bm(m, b)
        rhs = (m - a) * h_am + (b - m) * h_mb + ((b - m) * w_am - (m - a) * w_mb) / 2
        assert torch.allclose((b - a) * h_ab, rhs, rtol=0, atol=1e-14), (a, m, b)  # float64 round-off


def test_levy_area_is_the_area_of_the_path():
    """H over [1/4, 1/2] against the trapezoid rule on 2^12 dyadic sub-intervals of the
    same path: the rule's error is sum_i delta^2 H_i / h, of standard deviation
    delta / sqrt(12 h) = 3.5e-5; the bound is 6 of those."""
    bm = path(True, seed=23, shape=(2000,))
    a, b, n = 0.25, 0.5, 4096
    grid = [a + (b - a) * i / n for i in range(n + 1)]
    x = torch.cat([torch.zeros(1, 2000, dtype=torch.float64), bm.increments(grid).cumsum(0)])  # W_s - W_a
    delta, h = (b - a) / n, b - a
    trapezoid = delta * (x[1:] + x[:-1]).sum(0) / 2 / h - x[-1] / 2
    err = (bm.space_time_levy_area(a, b) - trapezoid).abs().max()
    assert err < 6 * delta / math.sqrt(12 * h), f"max |H - trapezoid| = {err:.2e}"


@pytest.mark.parametrize("tol", TOLS)
def test_levy_tree_bridge_law_given_increment_and_area(tol):
    """Given (w, H) over [a, b], W(s) - W(a) has mean p w + 6 p q H and variance
    h p q (1 - 3 p q), p = (s - a)/h (Foster's conditional law): checked by regression
    at a dyadic and a non-dyadic split."""
    bm = path(True, seed=24, tol=tol)
    for a, s, b in [(0.25, 0.375, 0.5), (0.3, 0.6172, 0.8)]:
        h = b - a
        p = (s - a) / h
        q = 1 - p
        w, area, ws = bm(a, b), bm.space_time_levy_area(a, b), bm(a, s)
        resid = ws - p * w - 6 * p * q * area
        sd = math.sqrt(h * p * q * (1 - 3 * p * q))
        check_unit_normal(resid / sd, f"W({s}) - W({a}) given (w, H) over [{a}, {b}]")
        assert abs(corr(resid, w)) < SE4_MEAN and abs(corr(resid, area)) < SE4_MEAN, (a, s, b)


# ------------------------------------------------------------------ dtype, device, errors
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("levy", LEVY)
def test_dtype_and_device(device, levy):
    wide = path(levy, seed=31, shape=(5, 4))
    narrow = BrownianPath(0.0, 1.0, (5, 4), seed=31, dtype=torch.float32, device=device, levy_area=levy)
    grid = [0.0, 0.3, 0.5, 0.7131]
    outs = [narrow(0.3), narrow(0.3, 0.7131), narrow.increments(grid)]
    refs = [wide(0.3), wide(0.3, 0.7131), wide.increments(grid)]
    if levy:
        outs += [narrow.space_time_levy_area(0.3, 0.7131), *narrow.increments_with_levy_area(grid)]
        refs += [wide.space_time_levy_area(0.3, 0.7131), *wide.increments_with_levy_area(grid)]
    for out, ref in zip(outs, refs):
        assert out.dtype == torch.float32 and out.device.type == device
        # the float32 path is the float64 path to float32 round-off (normals drawn in float32)
        assert torch.allclose(out.double().cpu(), ref, rtol=0, atol=1e-5)


def test_bad_input_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match="t0 < t1"):
        BrownianPath(1.0, 1.0, (2,))
    with pytest.raises(ValueError, match="t0 < t1"):
        BrownianPath(0.0, float("inf"), (2,))
    for shape in [(0,), (2.5,), 3, "ab", (True,)]:
        with pytest.raises(ValueError, match="tuple of positive ints"):
            BrownianPath(0.0, 1.0, shape)
    with pytest.raises(ValueError, match="tol must be"):
        BrownianPath(0.0, 1.0, (2,), tol=0.0)
    with pytest.raises(ValueError, match="use tol >="):
        BrownianPath(0.0, 1.0, (2,), tol=1e-300)
    with pytest.raises(ValueError, match="floating torch dtype"):
        BrownianPath(0.0, 1.0, (2,), dtype=torch.int64)
    with pytest.raises(TypeError, match="seed must be an int"):
        BrownianPath(0.0, 1.0, (2,), seed=1.5)

    bm = BrownianPath(0.0, 1.0, (2,))
    for call in [lambda: bm(1.5), lambda: bm(-0.1, 0.5), lambda: bm.increments([0.0, 0.5, 2.0]),
                 lambda: bm(float("nan"))]:
        with pytest.raises(ValueError, match=r"outside the Brownian path's interval \[0.0, 1.0\]"):
            call()
    bm(1.0 + 1e-13)  # within the documented slack of 1e-12 (t1 - t0)
    with pytest.raises(ValueError, match="ta <= tb"):
        bm(0.6, 0.5)
    with pytest.raises(ValueError, match="non-decreasing"):
        bm.increments([0.0, 0.5, 0.4])
    with pytest.raises(ValueError, match="at least two times"):
        bm.increments([0.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        bm.increments(torch.zeros(2, 2))
    with pytest.raises(TypeError, match="must be a number"):
        bm("0.5")
    for call in [lambda: bm.space_time_levy_area(0.1, 0.2), lambda: bm.increments_with_levy_area([0.0, 1.0])]:
        with pytest.raises(ValueError, match=r"levy_area=True"):
            call()
    levy = BrownianPath(0.0, 1.0, (2,), levy_area=True)
    with pytest.raises(ValueError, match="ta <= tb"):
        levy.space_time_levy_area(0.6, 0.5)
