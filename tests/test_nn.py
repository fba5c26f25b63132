"""sciml.nn: the activation table and the MLP builders."""

import math

import pytest
import torch
from torch import nn

from sciml.nn import ACTIVATIONS, MLP, Sine, activation, mlp


def test_known_activations_build_fresh_modules():
    for name, cls in ACTIVATIONS.items():
        a, b = activation(name), activation(name)
        assert isinstance(a, cls) and a is not b
    assert isinstance(activation("sin"), Sine)


def test_unknown_activation_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'; known: gelu, relu, selu, silu, sin, tanh"):
        activation("swish")
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, 1, activation="swish")


def test_sine_and_activation_values():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    torch.testing.assert_close(activation("sin")(x), torch.sin(x), rtol=0, atol=0)
    assert activation("sin")(torch.tensor(math.pi / 2)).item() == pytest.approx(1.0, abs=1e-7)
    torch.testing.assert_close(activation("tanh")(x), torch.tanh(x), rtol=0, atol=0)
    torch.testing.assert_close(activation("relu")(x), x.clamp_min(0), rtol=0, atol=0)


def test_mlp_shapes_layers_and_parameter_count():
    net = MLP(3, 2, width=7, depth=4, activation="gelu")
    assert net(torch.randn(5, 3)).shape == (5, 2)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 7), (7, 7), (7, 7), (7, 7), (7, 2)]
    assert sum(isinstance(m, nn.GELU) for m in net) == 4 and isinstance(net[-1], nn.Linear)
    assert sum(p.numel() for p in net.parameters()) == (3 + 1) * 7 + 3 * (7 + 1) * 7 + (7 + 1) * 2

    seq = mlp([4, 8, 6, 1], "silu")
    assert seq(torch.randn(3, 4)).shape == (3, 1)
    assert len(seq) == 5 and isinstance(seq[1], nn.SiLU) and isinstance(seq[-1], nn.Linear)
    assert sum(p.numel() for p in seq.parameters()) == 5 * 8 + 9 * 6 + 7 * 1
    assert isinstance(mlp([2, 3])[0], nn.Linear) and len(mlp([2, 3])) == 1


def test_same_seed_same_weights_and_state_dict_keys():
    torch.manual_seed(0)
    a = MLP(2, 1, width=5, depth=2, activation="tanh")
    torch.manual_seed(0)
    b = mlp([2, 5, 5, 1], "tanh")
    assert list(a.state_dict()) == list(b.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                                              "4.weight", "4.bias"]
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="depth must be a positive int"):
        MLP(2, 1, depth=0)
    with pytest.raises(TypeError, match="width must be a positive int"):
        MLP(2, 1, width=2.5)
    with pytest.raises(ValueError, match="at least an input and an output"):
        mlp([3])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive int"):
        mlp([3, 0, 1])
