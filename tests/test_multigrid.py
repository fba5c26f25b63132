"""Tests for the batched geometric multigrid solver of -div(a grad u) = f."""

import math

import numpy as np
import pytest
import scipy.sparse.linalg as spl
import torch

from sciml.pde._mg_stencil import five_point_stencil
from sciml.pde._mg_transfer import bilinear_weights, galerkin_coarsen, operator_weights, prolong, restrict
from sciml.pde._multigrid import MultigridHierarchy, apply_operator, assemble_scipy, multigrid_solve, pcg

DT = torch.float64


def smooth_field(batch, n, modes=4, seed=0, periodic=False):
    """Random smooth field: sum of cosines with 1/(k^2 + l^2) decaying amplitudes."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(n, dtype=DT) / (n if periodic else n - 1)
    X, Y = torch.meshgrid(x, x, indexing="ij")
    out = torch.zeros(batch, n, n, dtype=DT)
    for k in range(1, modes + 1):
        for l in range(1, modes + 1):
            c = torch.randn(batch, 1, 1, generator=g, dtype=DT) / (k * k + l * l)
            ph = torch.rand(batch, 1, 1, generator=g, dtype=DT) * 2 * math.pi
            w = 2 * math.pi if periodic else math.pi
            out += c * torch.cos(w * (k * X + l * Y) + ph)
    return out


def jump_field(batch, n, seed=0, periodic=False):
    """The FNO Darcy coefficients: 12 where a smooth random field is > 0, else 3."""
    return torch.where(smooth_field(batch, n, seed=seed, periodic=periodic) > 0, 12.0, 3.0).to(DT)


def spsolve_interior(a, f):
    A = assemble_scipy(a).tocsc()
    n = a.shape[-1]
    x = spl.spsolve(A, f[1:-1, 1:-1].reshape(-1).numpy())
    u = np.zeros((n, n))
    u[1:-1, 1:-1] = x.reshape(n - 2, n - 2)
    return torch.from_numpy(u)


@pytest.mark.parametrize("bc,n", [("dirichlet", 17), ("periodic", 16)])
@pytest.mark.parametrize("face", ["harmonic", "arithmetic"])
def test_operator_matches_scipy_matrix(bc, n, face):
    a = torch.exp(smooth_field(2, n, periodic=bc == "periodic"))
    u = torch.randn(2, n, n, dtype=DT)
    Au = apply_operator(a, u, bc, face)
    for b in range(2):
        A = assemble_scipy(a[b], bc, face)
        if bc == "dirichlet":
            ref = A @ u[b, 1:-1, 1:-1].reshape(-1).numpy()
            got = Au[b, 1:-1, 1:-1].reshape(-1).numpy()
            assert torch.all(Au[b, 0] == 0) and torch.all(Au[b, :, -1] == 0)
        else:
            ref = A @ u[b].reshape(-1).numpy()
            got = Au[b].reshape(-1).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
        assert abs(A - A.T).max() < 1e-10  # symmetric


@pytest.mark.parametrize("interpolation", ["operator", "bilinear"])
@pytest.mark.parametrize("bc,n", [("dirichlet", 17), ("periodic", 16)])
def test_galerkin_stencil_equals_rap(bc, n, interpolation):
    """The stencil-level Galerkin product equals R A P applied to every coarse unit vector."""
    a = jump_field(1, n, periodic=bc == "periodic")
    H = MultigridHierarchy(a, bc, coarsest=n - 1, interpolation=interpolation)  # two levels
    P = H.levels[0].P
    nc = H.levels[1].S.shape[-1]
    mask_c = H.levels[1].mask
    Ec = torch.eye(nc * nc, dtype=DT).view(-1, nc, nc) * mask_c
    fine = prolong(Ec, P, bc) * H.levels[0].mask
    rap = restrict(apply_operator(a, fine, bc), P, bc) * mask_c
    coarse = H._apply(1, Ec) * mask_c
    torch.testing.assert_close(coarse, rap, rtol=1e-12, atol=1e-10)
    direct = galerkin_coarsen(five_point_stencil(a, bc), P, bc, five=True)
    torch.testing.assert_close(direct, H.levels[1].S, rtol=1e-12, atol=1e-10)


def test_operator_weights_are_bilinear_for_the_laplacian_and_follow_jumps():
    n = 17
    S = five_point_stencil(torch.ones(1, n, n, dtype=DT), "dirichlet")
    mask = torch.zeros(n, n, dtype=DT)
    mask[1:-1, 1:-1] = 1
    P = operator_weights(S, "dirichlet", mask)
    B = bilinear_weights(1, n, "dirichlet", DT, "cpu")
    # (next to the boundary the weights towards boundary nodes, where e = 0, are dropped)
    torch.testing.assert_close(P[..., 2:-2, 2:-2], B[..., 2:-2, 2:-2], rtol=0, atol=1e-14)
    # a jump between columns 7 (a = 1) and 8 (a = 100): the edge point (4, 7) between the
    # coarse nodes (4, 6) and (4, 8) weighs them by their face conductances (flux
    # continuity), 1 and 2 * 100 / 101, where bilinear takes 1/2 each
    a = torch.ones(1, n, n, dtype=DT)
    a[..., :, 8:] = 100.0
    P = operator_weights(five_point_stencil(a, "dirichlet"), "dirichlet", mask)
    k_plus = 200 / 101
    assert abs(P[0, 1, 2, 4, 7] - k_plus / (1 + k_plus)) < 1e-12
    assert abs(P[0, 1, 0, 4, 7] - 1 / (1 + k_plus)) < 1e-12


@pytest.mark.parametrize("kind", ["smooth", "jump"])
def test_agrees_with_spsolve(kind):
    n = 65
    a = torch.exp(smooth_field(2, n, seed=1)) if kind == "smooth" else jump_field(2, n, seed=1)
    f = torch.ones(2, n, n, dtype=DT)
    res = multigrid_solve(a, f, tol=1e-12, max_cycles=40)
    assert bool(res.converged.all())
    for b in range(2):
        ref = spsolve_interior(a[b], f[b])
        err = (res.u[b] - ref).norm() / ref.norm()
        assert err < 1e-8, err
    assert torch.all(res.u[:, 0] == 0) and torch.all(res.u[:, :, -1] == 0)


def _mean_factor(res, tol):
    """Geometric-mean residual reduction per cycle over the cycles needed to reach tol."""
    k = res.cycles
    return (res.residuals[k] / res.residuals[0]) ** (1.0 / k)


def test_convergence_factor_jump_coefficients():
    """12:3 jump coefficients, f = 1, asymptotic V(2,2) factor (mean of the last cycles).
    Measured (4 fields x 3 seeds): operator-dependent interpolation 0.082 / 0.083 / 0.083
    at 65 / 129 / 257; bilinear 0.169 / 0.186 / 0.202 (the issue's target is <= 0.15)."""
    factors = {}
    for n in (65, 257):
        a = jump_field(2, n, seed=3)
        f = torch.ones_like(a)
        for interpolation in ("operator", "bilinear"):
            res = multigrid_solve(a, f, cycle="V", tol=1e-10, smoothing=(2, 2), interpolation=interpolation)
            assert bool(res.converged.all()) and res.cycles <= 20
            factors[interpolation, n] = res.factors[res.cycles - 4 : res.cycles].nanmean(0).max().item()
        w = multigrid_solve(a, f, cycle="W", tol=1e-10, smoothing=(2, 2))
        assert bool(w.converged.all())
        factors["W", n] = _mean_factor(w, 1e-10).max().item()
    assert factors["operator", 65] <= 0.15 and factors["operator", 257] <= 0.15, factors
    assert factors["operator", 257] <= 1.2 * factors["operator", 65], factors  # resolution independent
    assert factors["bilinear", 257] > 1.5 * factors["operator", 257], factors  # what the interpolation buys
    assert factors["W", 65] <= 0.15 and factors["W", 257] <= 0.15, factors


def test_cost_grows_linearly_with_unknowns():
    """Work per V-cycle in stencil-point updates: the levels' sizes sum to ~4/3 of the finest."""
    sizes = {}
    for n in (65, 129, 257):
        H = MultigridHierarchy(torch.ones(1, n, n, dtype=DT))
        sizes[n] = sum(lev.S.shape[-1] ** 2 for lev in H.levels)
    for n in (65, 129, 257):
        assert sizes[n] < 1.4 * n * n
    assert 3.8 < sizes[257] / sizes[129] < 4.2 and 3.8 < sizes[129] / sizes[65] < 4.2


def test_batched_equals_per_sample():
    n = 33
    a = jump_field(3, n, seed=4)
    f = torch.randn(3, n, n, dtype=DT, generator=torch.Generator().manual_seed(0))
    batched = multigrid_solve(a, f, tol=1e-10)
    for b in range(3):
        single = multigrid_solve(a[b], f[b], tol=1e-10)
        assert single.u.shape == (n, n)
        torch.testing.assert_close(batched.u[b], single.u, rtol=1e-9, atol=1e-12)
    # one shared coefficient field (batch 1) for several right-hand sides
    shared = multigrid_solve(a[:1], f, tol=1e-10)
    torch.testing.assert_close(shared.u[0], batched.u[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("smoother,cycle", [("rbgs", "V"), ("rbgs", "W"), ("jacobi", "V")])
def test_periodic_zero_mean(smoother, cycle):
    n = 64
    a = jump_field(2, n, seed=5, periodic=True)
    f = smooth_field(2, n, seed=6, periodic=True)
    f = f - f.mean(dim=(-2, -1), keepdim=True)
    res = multigrid_solve(a, f, bc="periodic", cycle=cycle, smoother=smoother, tol=1e-10, max_cycles=60)
    assert bool(res.converged.all())
    assert res.u.mean(dim=(-2, -1)).abs().max() < 1e-12
    r = f - apply_operator(a, res.u, "periodic")
    assert (r.norm() / f.norm()) < 1e-9
    # agrees with a least-squares reference
    A = assemble_scipy(a[0], "periodic").tocsc()
    x = spl.lsqr(A, f[0].reshape(-1).numpy(), atol=1e-14, btol=1e-14, iter_lim=20000)[0]
    x = x - x.mean()
    np.testing.assert_allclose(res.u[0].reshape(-1).numpy(), x, atol=1e-6 * np.abs(x).max())


def test_pcg_beats_cg():
    n = 65
    a = jump_field(2, n, seed=7)
    f = torch.ones_like(a)
    p = pcg(a, f, tol=1e-10)
    c = pcg(a, f, preconditioner=None, tol=1e-10, max_iter=2000)
    assert bool(p.converged.all()) and bool(c.converged.all())
    assert int(p.iterations.max()) < 15
    assert torch.all(p.iterations < c.iterations)
    torch.testing.assert_close(p.u, c.u, rtol=1e-7, atol=1e-9)
    fp = smooth_field(1, 32, seed=2, periodic=True)
    per = pcg(jump_field(1, 32, periodic=True), fp - fp.mean(), bc="periodic", tol=1e-10)
    assert bool(per.converged.all())


def test_float32_runs():
    a = jump_field(2, 33).float()
    res = multigrid_solve(a, torch.ones_like(a), tol=1e-5)
    assert res.u.dtype == torch.float32 and bool(res.converged.all())


def test_bad_inputs():
    a = jump_field(1, 33)
    f = torch.ones_like(a)
    with pytest.raises(ValueError, match="same grid"):
        multigrid_solve(a, torch.ones(1, 17, 17, dtype=DT))
    with pytest.raises(ValueError, match="> 0"):
        multigrid_solve(a - 20.0, f)
    with pytest.raises(ValueError, match="n >= 3"):
        multigrid_solve(torch.ones(1, 2, 2, dtype=DT), torch.ones(1, 2, 2, dtype=DT))
    with pytest.raises(ValueError, match="2\\^k"):
        multigrid_solve(torch.ones(1, 33, 33, dtype=DT), torch.ones(1, 33, 33, dtype=DT), bc="periodic")
    with pytest.raises(ValueError, match="zero-mean"):
        multigrid_solve(torch.ones(1, 32, 32, dtype=DT), torch.ones(1, 32, 32, dtype=DT), bc="periodic")
    with pytest.raises(ValueError, match="bc"):
        multigrid_solve(a, f, bc="neumann")
    with pytest.raises(ValueError, match="cycle"):
        multigrid_solve(a, f, cycle="F")
    with pytest.raises(ValueError, match="square"):
        multigrid_solve(torch.ones(1, 33, 17, dtype=DT), torch.ones(1, 33, 17, dtype=DT))
    with pytest.raises(ValueError, match="batch"):
        multigrid_solve(torch.ones(2, 33, 33, dtype=DT), torch.ones(3, 33, 33, dtype=DT))
    with pytest.raises(ValueError, match="floating"):
        multigrid_solve(torch.ones(1, 33, 33, dtype=torch.long), f)
    with pytest.raises(ValueError, match="symmetric"):
        pcg(a, f, smoothing=(1, 2))
    with pytest.raises(ValueError, match="u0"):
        multigrid_solve(a, f, u0=torch.zeros(1, 17, 17, dtype=DT))
    with pytest.raises(ValueError, match="hierarchy"):
        multigrid_solve(a, f, hierarchy=MultigridHierarchy(jump_field(1, 17)))
    with pytest.raises(ValueError, match="finite"):
        apply_operator(torch.full((33, 33), float("nan"), dtype=DT), torch.ones(33, 33, dtype=DT))


def test_pcg_with_a_float32_preconditioner_reaches_float64_accuracy():
    a = jump_field(3, 65, seed=5)
    f = torch.ones_like(a)
    full = pcg(a, f, tol=1e-11)
    mixed = pcg(a, f, tol=1e-11, preconditioner_dtype=torch.float32)
    assert mixed.u.dtype == torch.float64 and bool(mixed.converged.all())
    assert (mixed.u - full.u).abs().max() < 1e-9 * full.u.abs().max()
    assert int(mixed.iterations.max()) <= int(full.iterations.max()) + 1


@pytest.mark.parametrize("n", [6, 64, 85, 100])
def test_any_dirichlet_size_by_embedding(n):
    """n - 1 not a power of two: the grid is embedded in the next 2^k + 1 one whose extra
    nodes are Dirichlet nodes. Same answers as spsolve, same convergence as 2^k + 1 grids
    (measured V(2,2) factors 0.09-0.12 at 64, 85, 100 vs 0.08-0.11 at 65)."""
    a = jump_field(2, n, seed=n)
    f = torch.ones_like(a)
    res = multigrid_solve(a, f, tol=1e-10)
    p = pcg(a, f, tol=1e-10)
    assert bool(res.converged.all()) and bool(p.converged.all()) and res.cycles <= 16
    assert int(p.iterations.max()) <= 10
    for b in range(2):
        M = assemble_scipy(a[b]).tocsc()
        ref = spl.spsolve(M, np.ones(M.shape[0])).reshape(n - 2, n - 2)
        for u in (res.u, p.u):
            assert np.abs(u[b, 1:-1, 1:-1].numpy() - ref).max() < 1e-8 * np.abs(ref).max()
            assert u[b, 0].abs().max() == 0 and u[b, :, -1].abs().max() == 0
