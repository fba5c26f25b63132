"""Spectral grids and Sobolev norms against closed forms; GRFs against their covariance."""

import math

import pytest
import torch

from sciml.pde import SpectralGrid, gaussian_random_field, grf_eigenvalues

DT = torch.float64
PI = math.pi


def test_derivatives_exact_on_trigonometric_polynomials_1d_2d_3d():
    g1 = SpectralGrid((32,), length=2.0)
    (x,) = g1.coordinates(DT)
    k = 2 * PI / 2.0
    u = torch.sin(3 * k * x) + 0.5 * torch.cos(7 * k * x)
    du = 3 * k * torch.cos(3 * k * x) - 3.5 * k * torch.sin(7 * k * x)
    assert (g1.derivative(u, (1,)) - du).abs().max() < 1e-11
    assert (g1.derivative(u, (2,)) - g1.laplacian(u)).abs().max() < 1e-9
    g2 = SpectralGrid((24, 16))
    x, y = g2.coordinates(DT)
    u = torch.sin(2 * PI * x) * torch.cos(4 * PI * y)
    mixed = -(2 * PI) * (4 * PI) * torch.cos(2 * PI * x) * torch.sin(4 * PI * y)
    assert (g2.derivative(u, (1, 1)) - mixed).abs().max() < 1e-9
    g3 = SpectralGrid((8, 8, 8))
    x, y, z = g3.coordinates(DT)
    u = torch.sin(2 * PI * x) * torch.sin(2 * PI * y) * torch.cos(2 * PI * z)
    assert (g3.laplacian(u) + 3 * (2 * PI) ** 2 * u).abs().max() < 1e-9


def test_odd_derivative_drops_the_nyquist_mode():
    grid = SpectralGrid((8,))
    (x,) = grid.coordinates(DT)
    nyquist = torch.cos(2 * PI * 4 * x)  # (-1)^j: the Nyquist mode m = n/2, whose odd derivative is not real
    assert grid.derivative(nyquist, (1,)).abs().max() < 1e-12


def test_inverse_laplacian_inverts_on_zero_mean_fields():
    grid = SpectralGrid((32, 32), length=(1.0, 2.0))
    u = torch.randn(3, 32, 32, dtype=DT, generator=torch.Generator().manual_seed(0))
    u = u - u.mean(dim=(-2, -1), keepdim=True)
    assert (grid.inverse_laplacian(grid.laplacian(u)) - u).abs().max() < 1e-10


@pytest.mark.parametrize("s,shift,expected", [
    (0.0, 1.0, 0.5),                                  # int_0^1 sin^2 = 1/2 (Parseval)
    (1.0, 1.0, 0.5 * (1 + 4 * PI**2)),                # ||u||^2 + ||u'||^2
    (-1.0, 1.0, 0.5 / (1 + 4 * PI**2)),               # H^-1 with shift alpha = 1
    (-1.0, 3.0, 0.5 / (3 + 4 * PI**2)),
    (-0.5, 0.0, 0.5 / (2 * PI)),                      # homogeneous H^-1/2
    (2.5, 1.0, 0.5 * (1 + 4 * PI**2) ** 2.5),
])
def test_sobolev_norm_closed_forms(s, shift, expected):
    grid = SpectralGrid((64,))
    (x,) = grid.coordinates(DT)
    value = grid.sobolev_norm(torch.sin(2 * PI * x), s, shift=shift, squared=True)
    assert abs(value.item() - expected) < 1e-12 * max(1.0, expected)


def test_sobolev_norm_2d_even_odd_sizes_and_batching():
    for shape in ((16, 16), (15, 17)):
        grid = SpectralGrid(shape, length=(1.0, 0.5))
        x, y = grid.coordinates(DT)
        u = torch.cos(2 * PI * x) + torch.sin(4 * PI * y)  # |k|^2 = 4 pi^2 and (2 pi / 0.5)^2 = 16 pi^2
        expected = 0.5 * 0.5 * ((1 + 4 * PI**2) ** -1 + (1 + 16 * PI**2) ** -1)  # |Omega| = 1/2
        got = grid.sobolev_norm(torch.stack([u, 2 * u]), -1.0, squared=True)
        assert torch.allclose(got, torch.tensor([expected, 4 * expected], dtype=DT), rtol=1e-12)
        # s = 0 is the L2 norm on the grid exactly (Parseval)
        v = torch.randn(shape, dtype=DT, generator=torch.Generator().manual_seed(1))
        assert abs(grid.sobolev_norm(v, 0.0, squared=True).item() - (v**2).mean().item() * 0.5) < 1e-12


def test_dealias_mask_two_thirds_rule():
    grid = SpectralGrid((12, 12))
    mask = grid.dealias_mask(DT)
    kept = [(m1, m2) for m1 in range(12) for m2 in range(7) if mask[m1, m2] > 0]
    signed = [((m1 + 6) % 12 - 6, m2) for m1, m2 in kept]
    assert all(abs(a) <= 4 and b <= 4 for a, b in signed) and len(kept) == 9 * 5


def test_grf_periodic_pointwise_variance_and_spectrum():
    n, alpha, tau = 32, 2.0, 3.0
    u = gaussian_random_field(4000, (n, n), alpha, tau, generator=torch.Generator().manual_seed(0), dtype=DT)
    lam = grf_eigenvalues((n, n), alpha, tau)
    grid = SpectralGrid((n, n))
    target_var = (lam * grid.mode_weights(DT)).sum().item()  # sum over all modes of lambda_m
    var = u.var(dim=0).mean().item()
    assert abs(var / target_var - 1) < 0.03  # 4000 samples x 1024 correlated points: ~1% error
    # empirical spectrum E|u_hat_m|^2 = lambda_m on low modes (4000 samples: 3-4% per mode)
    power = (grid.fft(u).abs() ** 2).mean(0)
    for m in ((0, 0), (1, 0), (0, 1), (2, 3), (5, 1)):
        assert abs(power[m].item() / lam[m].item() - 1) < 0.1, m


def test_grf_dirichlet_vanishes_on_the_boundary_and_has_the_target_variance():
    n, alpha, tau = 17, 2.0, 3.0
    u = gaussian_random_field(40000, (n, n), alpha, tau, boundary="dirichlet",
                              generator=torch.Generator().manual_seed(0), dtype=DT)
    assert u[:, 0].abs().max() < 1e-12 and u[:, :, -1].abs().max() < 1e-12
    lam = grf_eigenvalues((n, n), alpha, tau, boundary="dirichlet")
    x = torch.linspace(0, 1, n, dtype=DT)
    m = torch.arange(1, n - 1, dtype=DT)
    e2 = 2 * torch.sin(PI * m[:, None] * x[None, :]) ** 2  # (modes, n)
    target = torch.einsum("ab,ai,bj->ij", lam, e2, e2)  # sum_m lambda_m e_m(x)^2
    centre = slice(4, 13)
    ratio = u.var(0)[centre, centre] / target[centre, centre]
    # 40000 samples: the variance of the dominant mode is known to ~0.7%, so ~2% is 3 sigma
    assert (ratio - 1).abs().max() < 0.03


def test_grf_neumann_has_the_target_variance_and_zero_normal_derivative():
    n, alpha, tau = 17, 2.0, 3.0
    u = gaussian_random_field(40000, (n, n), alpha, tau, boundary="neumann", zero_mean=True,
                              generator=torch.Generator().manual_seed(1), dtype=DT)
    lam = grf_eigenvalues((n, n), alpha, tau, boundary="neumann", zero_mean=True)
    assert lam[0, 0] == 0 and lam.shape == (n, n)
    x = torch.linspace(0, 1, n, dtype=DT)
    e2 = 2 * torch.cos(PI * torch.arange(n, dtype=DT)[:, None] * x[None, :]) ** 2
    e2[0] = 1.0
    target = torch.einsum("ab,ai,bj->ij", lam, e2, e2)
    ratio = u.var(0) / target  # boundary and corner points included
    assert (ratio - 1).abs().max() < 0.03
    # the cosine basis sums to an even extension about x = 0: zero mean over the (trapezoidal) box
    w = torch.ones(n, dtype=DT)
    w[0] = w[-1] = 0.5
    mean = torch.einsum("sij,i,j->s", u, w, w) / (n - 1) ** 2
    assert mean.abs().max() < 1e-12


def test_grf_seeded_and_bad_input():
    a = gaussian_random_field(2, (16,), generator=torch.Generator().manual_seed(5))
    b = gaussian_random_field(2, (16,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.dtype == torch.float32
    with pytest.raises(ValueError, match="unknown boundary"):
        gaussian_random_field(1, (16,), boundary="robin")
    with pytest.raises(ValueError, match="zero_mean"):
        gaussian_random_field(1, (16,), tau=0.0, boundary="neumann")
    with pytest.raises(ValueError, match="alpha > 0"):
        gaussian_random_field(1, (16,), alpha=-1.0)
    with pytest.raises(ValueError, match="shape"):
        SpectralGrid((4, 4, 4, 4))
    with pytest.raises(ValueError, match="field of shape"):
        SpectralGrid((8,)).fft(torch.zeros(7))
