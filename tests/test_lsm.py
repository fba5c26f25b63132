"""Latent Spectral Models: the reference parameter count, attention normalisation, the
spectral transition, padding rules."""

import pytest
import torch

from sciml.operators import LSM, NeuralSpectralBlock, build_model


def test_reference_darcy_parameter_count_and_cpu_run():
    model = LSM()  # width 64, patch 6, padding 11 (85^2 -> 96^2), 12 basis functions, 4 tokens
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 19_187_457
    small = build_model({"name": "lsm", "width": 8, "patch": 1, "padding": [0, 0]})
    assert small(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_attention_rows_sum_to_one():
    torch.manual_seed(0)
    block = NeuralSpectralBlock(16, num_basis=12, num_token=4, patch=4)
    block(torch.randn(2, 16, 8, 8), record_attention=True)
    enc, dec = block.last_attention
    assert enc.shape == (8, 8, 4, 16) and dec.shape == (8, 8, 16, 4)  # (patches, heads, tokens, pixels) and back
    assert torch.allclose(enc.sum(-1), torch.ones(()), atol=1e-6)  # each token over the pixels
    assert torch.allclose(dec.sum(-1), torch.ones(()), atol=1e-6)  # each pixel over the tokens


def test_transition_is_the_identity_with_zero_basis_weights():
    block = NeuralSpectralBlock(16)
    z = torch.randn(3, 16, 4)
    with torch.no_grad():
        block.weights.zero_()
    assert torch.equal(block.transition(z), z)
    with torch.no_grad():
        block.weights[:, 12] = 1.0  # cos(0 * z) = 1: adds 1 to every token value
    assert torch.allclose(block.transition(z), z + 1)


def test_padding_must_fit_the_patches():
    model = LSM(width=8, patch=6, padding=(10, 10))
    with pytest.raises(ValueError, match="multiple of 16 x patch = 96.*padding \\(11, 11\\)"):
        model(torch.randn(1, 1, 85, 85))
    with pytest.raises(ValueError, match=r"expects \(batch, 1, H, W\)"):
        model(torch.randn(1, 2, 85, 85))


def test_three_dimensional_model():
    """The plasticity configuration's shape pattern (101 x 31 x 20, patches 7 x 2 x 2): pad
    (11, 1, 12) in axis order reaches 112 x 32 x 32; a small width keeps the test fast."""
    model = LSM(in_channels=1, out_channels=4, width=8, patch=(7, 2, 2), padding=(11, 1, 12), ndim=3)
    x = torch.randn(1, 1, 101, 31, 20)
    assert model(x).shape == (1, 4, 101, 31, 20)
    block = NeuralSpectralBlock(16, patch=(2, 2, 2), ndim=3)
    y = torch.randn(2, 16, 4, 4, 6)
    block(y, record_attention=True)
    assert torch.allclose(block.last_attention[0].sum(-1), torch.ones(()), atol=1e-6)
    with pytest.raises(ValueError, match="multiple of 16 x patch"):
        LSM(width=8, patch=(7, 2, 2), padding=(12, 1, 11), ndim=3)(x)
    with pytest.raises(ValueError, match="width must be a multiple"):
        LSM(width=12)
