"""sciml.train.losses against closed forms."""

import math

import numpy as np
import pytest
import torch

from sciml.train.losses import H1Loss, HsLoss, LpLoss

DT = torch.float64
PI = math.pi


def _periodic(n, k=1):
    x = torch.arange(n, dtype=DT) / n
    return torch.sin(2 * PI * k * x)


def test_relative_lp_and_reductions():
    y = torch.randn(4, 2, 16, 16, dtype=DT, generator=torch.Generator().manual_seed(0))
    assert abs(LpLoss()(1.01 * y, y).item() - 4 * 0.01) < 1e-12  # summed over the batch
    assert abs(LpLoss(reduction="mean")(1.01 * y, y).item() - 0.01) < 1e-12
    # per sample and channel, then the channel mean: channel 0 off by 1%, channel 1 by 3%
    pred = y.clone()
    pred[:, 0] *= 1.01
    pred[:, 1] *= 1.03
    assert abs(LpLoss(reduction="mean")(pred, y).item() - 0.02) < 1e-12
    assert abs(LpLoss(p=1, reduction="mean")(1.05 * y, y).item() - 0.05) < 1e-12


def test_absolute_l2_is_the_quadrature_norm():
    u = _periodic(64)[None, None]  # ||sin 2 pi x||_{L2(0,1)} = sqrt(1/2)
    assert abs(LpLoss(relative=False)(u, 0 * u).item() - math.sqrt(0.5)) < 1e-12
    u2 = (_periodic(32)[:, None] * _periodic(32)[None, :])[None, None]  # sin sin on [0, 2]^2: sqrt(4/4)
    assert abs(LpLoss(relative=False, lengths=2.0)(u2, 0 * u2).item() - 1.0) < 1e-12


def test_h1_of_a_sine_spectral_and_finite_differences():
    """||sin(2 pi k x)||^2_{H1(0,1)} = (1 + 4 pi^2 k^2) / 2: exact spectrally; central
    differences converge at second order."""
    k = 3
    exact = math.sqrt((1 + 4 * PI**2 * k**2) / 2)
    u = _periodic(64, k)[None, None]
    assert abs(H1Loss(relative=False)(u, 0 * u).item() - exact) < 1e-10
    errors = [abs(H1Loss(relative=False, method="fd")(_periodic(n, k)[None, None], 0 * _periodic(n, k)[None, None])
                  .item() - exact) for n in (32, 64, 128)]
    order = -np.polyfit(np.log([32, 64, 128]), np.log(errors), 1)[0]
    assert 1.9 < order < 2.1, errors


def test_nonperiodic_h1_uses_one_sided_stencils():
    """On a vertex grid with the boundary, second-order differences with one-sided
    boundary stencils are exact for quadratics: the gradient of x^2 + 3y is (2x, 3)."""
    n = 17
    x = torch.linspace(0, 1, n, dtype=DT)
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u = (X**2 + 3 * Y)[None, None]
    loss = H1Loss(periodic=False, method="fd", relative=False)
    value = loss(u, 0 * u).item() ** 2 * n * n  # undo the Riemann weight 1/n^2
    expected = ((X**2 + 3 * Y) ** 2 + 4 * X**2 + 9).sum().item()
    assert abs(value - expected) < 1e-9 * expected
    # wrap-around differences would see a jump at the boundary and be far off
    wrapped = H1Loss(periodic=True, method="fd", relative=False)(u, 0 * u).item() ** 2 * n * n
    assert wrapped > 2 * expected


def test_hs_closed_forms_and_mgno_truncation():
    u = _periodic(64, 2)[None, None]
    alpha = 10**-1.5
    h_minus = HsLoss(s=-1, shift=alpha, relative=False)(u, 0 * u).item() ** 2
    assert abs(h_minus - 0.5 / (alpha + 16 * PI**2)) < 1e-14
    # integer wavenumbers (L = 2 pi): sin(25 * 2 pi x) is beyond the cutoff 20, so counts as |k| = 0
    v = _periodic(128, 25)[None, None]
    truncated = HsLoss(s=1, lengths=2 * PI, wavenumber_cutoff=20, relative=False)(v, 0 * v).item() ** 2
    full = HsLoss(s=1, lengths=2 * PI, relative=False)(v, 0 * v).item() ** 2
    assert abs(truncated - 2 * PI * 0.5) < 1e-10 and abs(full - 2 * PI * 0.5 * (1 + 625)) < 1e-8


def test_gradients_flow_and_errors():
    y = torch.randn(2, 1, 8, 8, dtype=DT, generator=torch.Generator().manual_seed(1))
    x = torch.zeros_like(y, requires_grad=True)
    for loss in (LpLoss(), H1Loss(), HsLoss(s=-1)):
        loss(x, y).backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        x.grad = None
    with pytest.raises(ValueError, match="same shape"):
        LpLoss()(y, y[:, :, :4])
    with pytest.raises(ValueError, match="reduction"):
        LpLoss(reduction="avg")
    with pytest.raises(ValueError, match="spectral gradients need periodic"):
        H1Loss(periodic=False, method="spectral")
    with pytest.raises(ValueError, match="batch, channels"):
        LpLoss()(torch.ones(4), torch.ones(4))
