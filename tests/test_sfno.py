"""SFNO: structure, shapes, resolution and length independence of the space-time
spectral convolution, and the skip from the last input frame."""

import math

import pytest
import torch

from sciml.operators import SFNO, SpaceTimeSpectralConv, build_model


def _band_limited(b, c, n, nt, kmax=3, ktmax=2, seed=0):
    """Real fields ``(b, c, nt, n, n)`` that are trigonometric polynomials of low degree in
    x, y and t (time sampled on ``j / nt``, periodic), so every grid and length represents them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(n, dtype=torch.float64) / n
    t = torch.arange(nt, dtype=torch.float64) / nt
    T, X, Y = torch.meshgrid(t, x, x, indexing="ij")
    out = torch.zeros(b, c, nt, n, n, dtype=torch.float64)
    for kx in range(-kmax, kmax + 1):
        for ky in range(-kmax, kmax + 1):
            for kt in range(0, ktmax + 1):
                a, phase = torch.randn(b, c, 1, 1, 1, generator=g, dtype=torch.float64), 2 * math.pi * torch.rand(
                    b, c, 1, 1, 1, generator=g, dtype=torch.float64)
                out += a * torch.cos(2 * math.pi * (kx * X + ky * Y + kt * T) + phase)
    return out


def test_parameter_count_matches_reference_configuration():
    # the FNO-data configuration of the paper; the count of torch-cfd's current SFNO
    model = SFNO(modes=(12, 12, 5), width=20, out_steps=40)
    assert sum(p.numel() for p in model.parameters()) == 9_242_461


@pytest.mark.parametrize("out_steps", [5, 10, 40])
def test_shapes_any_output_length(out_steps):
    torch.manual_seed(0)
    model = SFNO(modes=(6, 6, 4), width=8)
    assert model(torch.randn(2, 1, 10, 32, 32), out_steps).shape == (2, 1, out_steps, 32, 32)


def test_several_fields_keep_their_channels():
    torch.manual_seed(0)
    model = SFNO(modes=(4, 4, 3), width=8, channels=2)
    x = torch.randn(2, 2, 6, 16, 16)
    y = model(x, 7)
    assert y.shape == (2, 2, 7, 16, 16)
    with torch.no_grad():
        model.output.conv.weight.zero_()
    torch.testing.assert_close(model(x, 3), x[:, :, -1:].expand(-1, -1, 3, -1, -1))


def test_zero_shot_resolutions_and_input_lengths():
    torch.manual_seed(0)
    model = SFNO(modes=(12, 12, 5), width=8, out_steps=7)
    for n, t_in in ((64, 10), (16, 10), (33, 4), (32, 1)):
        y = model(torch.randn(1, 1, t_in, n, n))
        assert y.shape == (1, 1, 7, n, n) and torch.isfinite(y).all()


def test_registry_and_errors():
    assert isinstance(build_model({"name": "sfno", "width": 8, "modes": (4, 4, 3)}), SFNO)
    model = SFNO(modes=(4, 4, 3), width=8)
    with pytest.raises(ValueError, match="batch, channels=1, T_in, x, y"):
        model(torch.randn(2, 5, 16, 16))
    with pytest.raises(ValueError, match="batch, channels=1, T_in, x, y"):
        model(torch.randn(2, 2, 5, 16, 16))
    with pytest.raises(ValueError, match="out_steps"):
        model(torch.randn(2, 1, 5, 16, 16), 0)
    with pytest.raises(ValueError, match="width"):
        SFNO(width=3)
    with pytest.raises(ValueError, match="modes"):
        SpaceTimeSpectralConv(1, 1, (4, 4))


def test_full_modes_unit_weight_is_identity():
    """With every mode kept, weight 1 and no bias, the convolution reproduces any field."""
    conv = SpaceTimeSpectralConv(1, 1, (8, 8, 5)).double()
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[..., 0] = 1.0
    v = torch.randn(2, 1, 8, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(conv(v), v, atol=1e-12, rtol=0)


def test_temporal_resampling_preserves_amplitude():
    """A band-limited periodic signal evaluated at another number of frames is the same
    function sampled there (norm="forward": no factor T_in / T_out)."""
    conv = SpaceTimeSpectralConv(1, 1, (4, 4, 3)).double()
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[..., 0] = 1.0
    v8 = _band_limited(1, 1, 8, 8, kmax=3, ktmax=2)
    v12 = _band_limited(1, 1, 8, 12, kmax=3, ktmax=2)
    torch.testing.assert_close(conv(v8, out_steps=12), v12, atol=1e-12, rtol=0)


def test_spectral_conv_commutes_with_subsampling_bias_included():
    """On a band-limited input, the convolution at 64^2 subsampled to 32^2 equals the
    convolution of the subsampled input: weights and the spectral bias mean the same on
    every grid."""
    torch.manual_seed(0)
    conv = SpaceTimeSpectralConv(2, 3, (6, 6, 3), bias=True, delta=0.5).double()
    with torch.no_grad():
        conv.bias.normal_()
    v = _band_limited(2, 2, 64, 6, kmax=5, ktmax=2)
    fine, coarse = conv(v), conv(v[..., ::2, ::2])
    torch.testing.assert_close(fine[..., ::2, ::2], coarse, atol=1e-12, rtol=0)
    assert fine.abs().max() > 0.1


def test_spectral_conv_is_shift_equivariant_and_linear():
    torch.manual_seed(0)
    conv = SpaceTimeSpectralConv(2, 2, (5, 5, 3)).double()
    a, b = torch.randn(2, 1, 2, 6, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(conv(torch.roll(a, (3, -5), (3, 4))), torch.roll(conv(a), (3, -5), (3, 4)))
    torch.testing.assert_close(conv(2 * a - b), 2 * conv(a) - conv(b))


def test_modes_beyond_the_grid_keep_the_lowest_frequencies():
    """On a grid too small for all modes, the weights of the lowest frequencies are used
    (in the negative corners these sit at the end of the block)."""
    torch.manual_seed(0)
    big = SpaceTimeSpectralConv(1, 1, (6, 6, 3)).double()
    small = SpaceTimeSpectralConv(1, 1, (2, 2, 3)).double()
    with torch.no_grad():
        for corner in range(4):
            xs = slice(0, 2) if corner % 2 == 0 else slice(4, 6)
            ys = slice(0, 2) if corner // 2 == 0 else slice(4, 6)
            small.weight[corner] = big.weight[corner][:, :, xs, ys]
    v = torch.randn(1, 1, 5, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(big(v), small(v), atol=1e-12, rtol=0)


def test_output_is_last_frame_when_output_layer_is_zero():
    torch.manual_seed(0)
    model = SFNO(modes=(4, 4, 3), width=8)
    with torch.no_grad():
        model.output.conv.weight.zero_()
    x = torch.randn(2, 1, 6, 16, 16)
    y = model(x, 9)
    torch.testing.assert_close(y, x[:, :, -1:].expand(-1, -1, 9, -1, -1))


def test_float64_model_and_gradients():
    torch.manual_seed(0)
    model = SFNO(modes=(4, 4, 3), width=8).double()
    y = model(torch.randn(1, 1, 5, 16, 16, dtype=torch.float64), 6)
    assert y.dtype == torch.float64
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
