"""Bad inputs to the models and losses: each raises at construction or at the start of
``forward`` with the argument's name (issue 22), never deep inside torch or silently."""

import math
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciml.conserve import AttentiveNP
from sciml.generative import VelocityField
from sciml.operators import LSM, SFNO, MgNO, fno
from sciml.pinn import FourierFeatures, PeriodicEmbedding, PINNNet
from sciml.train.losses import H1Loss, HsLoss, LpLoss

NAN, INF = float("nan"), float("inf")


def _small_mgno(**kw):
    return MgNO(channels=4, n_layers=1, num_iteration=[(1, 0)] * 2, **kw)


CONSTRUCTORS = [
    (lambda: MgNO(in_channels=0), ValueError, "in_channels must be a positive int"),
    (lambda: MgNO(channels=0), ValueError, "channels must be a positive int"),
    (lambda: MgNO(out_channels=0), ValueError, "out_channels must be a positive int"),
    (lambda: MgNO(in_channels=1.5), TypeError, "in_channels must be a positive int"),
    (lambda: MgNO(num_iteration=[(1.5, 0)]), TypeError, r"num_iteration\[0\]\[0\]"),
    (lambda: MgNO(num_iteration=[(0, 0)]), ValueError, r"num_iteration\[0\]\[0\] must be a positive int"),
    (lambda: MgNO(grid_size=-4), ValueError, "grid_size must be a positive int"),
    (lambda: LSM(width=0), ValueError, "width must be a positive int"),
    (lambda: LSM(width=8.0), TypeError, "width must be a positive int"),
    (lambda: LSM(width=8, patch=0), ValueError, r"patch\[0\] must be a positive int"),
    (lambda: LSM(width=8, patch=(2, 2, 2)), ValueError, "patch must be one int or 2 ints"),
    (lambda: LSM(width=8, in_channels=0), ValueError, "in_channels must be a positive int"),
    (lambda: LSM(width=8, num_basis=0), ValueError, "num_basis must be a positive int"),
    (lambda: LSM(width=8, num_token=0), ValueError, "num_token must be a positive int"),
    (lambda: LSM(width=8, padding=-1), ValueError, r"padding\[0\] must be a non-negative int"),
    (lambda: SFNO(modes=(0, 0, 0)), ValueError, r"modes\[0\] must be a positive int"),
    (lambda: SFNO(modes=(4, 4)), ValueError, "modes must be three positive ints"),
    (lambda: SFNO(modes=(1.5, 2, 2)), TypeError, r"modes\[0\]"),
    (lambda: SFNO(modes=(2, 2, 2), width=8, delta=NAN), ValueError, "delta must be finite"),
    (lambda: SFNO(modes=(2, 2, 2), width=8, beta=INF), ValueError, "beta must be finite"),
    (lambda: SFNO(modes=(2, 2, 2), width=8, pe_dt=0.0), ValueError, "pe_dt must be > 0"),
    (lambda: SFNO(modes=(2, 2, 2), width=8, time_padding="yes"), TypeError, "time_padding must be True or False"),
    (lambda: fno(n_modes=(0, 0)), ValueError, r"n_modes\[0\] must be a positive int"),
    (lambda: fno(n_modes=8), TypeError, "n_modes must list the kept modes per space axis"),
    (lambda: fno(n_modes=(4, 4), hidden_channels=0), ValueError, "hidden_channels must be a positive int"),
    (lambda: fno(n_modes=(4, 4), lifting_channel_ratio=0), ValueError, "lifting_channel_ratio must be > 0"),
    (lambda: fno(n_modes=(4, 4), rank=NAN), ValueError, "rank must be finite"),
    (lambda: VelocityField(0), ValueError, "dim must be a positive int"),
    (lambda: AttentiveNP(dim_x=0), ValueError, "dim_x must be a positive int"),
    (lambda: AttentiveNP(hidden=0), ValueError, "hidden must be a positive int"),
    (lambda: AttentiveNP(latent=0), ValueError, "latent must be a positive int"),
    (lambda: AttentiveNP(dropout=1.5), ValueError, r"dropout must lie in \[0, 1\)"),
    (lambda: PINNNet(0), ValueError, "in_dim must be a positive int"),
    (lambda: PINNNet(2, output_transform=3), TypeError, "output_transform must be callable"),
    (lambda: FourierFeatures(2, 0), ValueError, "n_features must be a positive int"),
    (lambda: FourierFeatures(2, 4, scale=NAN), ValueError, "scale must be finite"),
    (lambda: FourierFeatures(2, 4, seed=1.5), TypeError, "seed must be a non-negative int"),
    (lambda: PeriodicEmbedding(2, {0: 0.0}), ValueError, r"periods\[0\] must be > 0"),
    (lambda: PeriodicEmbedding(2, {5: 1.0}), ValueError, r"periods must map columns in \[0, 2\)"),
]


@pytest.mark.parametrize("build, error, fragment", CONSTRUCTORS)
def test_constructors_reject_bad_arguments(build, error, fragment):
    start = time.perf_counter()
    with pytest.raises(error, match=fragment):
        build()
    assert time.perf_counter() - start < 5


x4 = torch.randn(2, 1, 16, 16)
FORWARDS = [
    (lambda: _small_mgno()(x4.double()), TypeError, r"MgNO has torch.float32 weights but got a torch.float64 input"),
    (lambda: _small_mgno()(x4.long()), TypeError, "MgNO expects a floating-point tensor"),
    (lambda: _small_mgno()(x4[0]), ValueError, r"MgNO expects \(batch, 1, H, W\), got shape \(1, 16, 16\)"),
    (lambda: _small_mgno()(x4.numpy()), TypeError, "MgNO expects a tensor"),
    (lambda: LSM(width=8, patch=1, padding=0)(x4.double()), TypeError, "LSM has torch.float32 weights"),
    (lambda: LSM(width=8, patch=1, padding=0)(torch.randn(2, 3, 16, 16)), ValueError, r"LSM expects \(batch, 1, H, W\)"),
    (lambda: SFNO(modes=(2, 2, 2), width=8)(torch.randn(1, 1, 3, 8, 8, dtype=torch.float64)), TypeError,
     "SFNO has torch.float32 weights"),
    (lambda: fno(n_modes=(4, 4), hidden_channels=8)(x4.double()), TypeError, "fno has torch.float32 weights"),
    (lambda: fno(n_modes=(4, 4), hidden_channels=8)(torch.randn(2, 3, 16, 16)), ValueError,
     r"fno expects \(batch, 1, x1, x2\), got shape \(2, 3, 16, 16\)"),
    (lambda: fno(n_modes=(4, 4), hidden_channels=8)(torch.randn(2, 1, 16)), ValueError, r"fno expects \(batch, 1, x1, x2\)"),
    (lambda: VelocityField(2)(torch.tensor(0.5), torch.randn(3, 2, dtype=torch.float64)), TypeError,
     "VelocityField has torch.float32 weights"),
    (lambda: VelocityField(2)(torch.tensor(0.5), torch.randn(3, 3)), ValueError, r"VelocityField expects \(batch, 2\)"),
    (lambda: PINNNet(2)(torch.randn(3, 2, dtype=torch.float64)), TypeError, "PINNNet has torch.float32 weights"),
    (lambda: PINNNet(2)(torch.randn(3, 3)), ValueError, r"coordinates \(N, 2\)"),
    (lambda: AttentiveNP(hidden=8, latent=4, heads=2)(torch.randn(1, 5, 2), torch.randn(1, 5, 2), torch.randn(1, 3, 2)),
     ValueError, r"AttentiveNP \(y\) expects \(batch, points, 1\)"),
    (lambda: AttentiveNP(hidden=8, latent=4, heads=2)(torch.randn(1, 5, 2).double(), torch.randn(1, 5, 1).double(),
                                                      torch.randn(1, 3, 2).double()), TypeError, "float32 weights"),
]


@pytest.mark.parametrize("call, error, fragment", FORWARDS)
def test_forward_names_the_expected_layout_and_dtype(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_models_still_map_their_layout():
    assert _small_mgno()(x4).shape == x4.shape
    assert fno(n_modes=(4, 4), hidden_channels=8)(x4).shape == x4.shape
    assert _small_mgno().double()(x4.double()).dtype == torch.float64


y = torch.randn(2, 1, 16, 16, dtype=torch.float64)
LOSSES = [
    (lambda: LpLoss()(y, torch.zeros_like(y)), ValueError, "target has zero norm in 2 of 2"),
    (lambda: H1Loss()(y, torch.zeros_like(y)), ValueError, "H1Loss: the target has zero norm"),
    (lambda: HsLoss()(y, torch.zeros_like(y)), ValueError, "HsLoss: the target has zero norm"),
    (lambda: LpLoss(p=NAN), ValueError, "p must be finite"),
    (lambda: LpLoss(p=0.5), ValueError, "p must be >= 1"),
    (lambda: LpLoss(eps=-1.0), ValueError, "eps must be >= 0"),
    (lambda: LpLoss(d=True), TypeError, "d must be a positive int"),
    (lambda: LpLoss(relative="no"), TypeError, "relative must be True or False"),
    (lambda: LpLoss(relative=False, lengths=0), ValueError, "lengths must be > 0"),
    (lambda: LpLoss(relative=False, lengths=NAN), ValueError, "lengths must be finite"),
    (lambda: LpLoss(relative=False, lengths=(1.0, -1.0)), ValueError, r"lengths\[1\] must be > 0"),
    (lambda: LpLoss()(y.long(), (y + 1).long()), TypeError, "floating-point tensors"),
    (lambda: HsLoss(wavenumber_cutoff=0), ValueError, "wavenumber_cutoff must be a positive int"),
    (lambda: HsLoss(shift=-1.0), ValueError, "shift must be >= 0"),
    (lambda: HsLoss(s=INF), ValueError, "s must be finite"),
    (lambda: H1Loss(method="cheb"), ValueError, "unknown method"),
    (lambda: H1Loss(periodic=1), TypeError, "periodic must be True or False"),
]


@pytest.mark.parametrize("call, error, fragment", LOSSES)
def test_losses_reject_bad_arguments_and_zero_targets(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_h1_loss_defaults_follow_the_grid_kind():
    assert H1Loss(periodic=False).method == "fd" and H1Loss().method == "spectral"
    assert LpLoss(p=math.inf)(y + 1, y).item() > 0


@settings(max_examples=30, deadline=2000)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(3, 9), st.floats(-1e3, 1e3, allow_nan=False),
       st.integers(0, 2**31 - 1), st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_lp_loss_is_finite_nonnegative_and_zero_iff_equal(batch, channels, n, shift, seed, p):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(batch, channels, n, n, generator=g, dtype=torch.float64) + shift
    pred = target + torch.randn(batch, channels, n, n, generator=g, dtype=torch.float64)
    for loss in (LpLoss(p=p), LpLoss(p=p, relative=False)):
        value = loss(pred, target)
        assert torch.isfinite(value) and value > 0
        assert loss(target, target) == 0


@settings(max_examples=25, deadline=5000)
@given(st.integers(-1, 3), st.integers(-1, 6), st.integers(-1, 2))
def test_mgno_builds_and_maps_or_names_the_argument(in_channels, channels, levels):
    try:
        model = MgNO(in_channels=in_channels, channels=channels, n_layers=1, num_iteration=[(1, 0)] * max(levels, 0))
    except ValueError as err:
        assert any(name in str(err) for name in ("in_channels", "channels", "num_iteration"))
        return
    x = torch.randn(1, in_channels, 8, 8)
    assert model(x).shape == (1, 1, 8, 8)


def _issue22_model_cases():
    from sciml.nde import NeuralODE, NeuralSDE
    from sciml.nn import MLP
    from sciml.operators import build_model
    from sciml.pinn import EulerianPINN

    small = lambda: fno(n_modes=(3, 3), hidden_channels=4, n_layers=1)  # noqa: E731
    field = lambda: torch.nn.Linear(2, 2)  # noqa: E731
    return [
        (lambda: fno(positional_embedding="bogus"), ValueError, "unknown positional_embedding 'bogus'"),
        (lambda: fno(norm="bogus"), ValueError, "unknown norm 'bogus'; known: None, instance_norm"),
        (lambda: fno(factorization="bogus"), ValueError, "unknown factorization 'bogus'; known: None, dense"),
        (lambda: fno(fno_skip="bogus"), ValueError, "unknown fno_skip 'bogus'"),
        (lambda: fno(domain_padding=-0.5), ValueError, "domain_padding must be >= 0, got -0.5"),
        (lambda: fno(domain_padding=(0.1,)), ValueError, "domain_padding lists 1 fractions for 2 space axes"),
        (lambda: small()(torch.randn(0, 1, 8, 8)), ValueError, "fno got an empty batch"),
        (lambda: SFNO(beta=NAN), ValueError, "beta must be finite"),
        (lambda: build_model("fno"), TypeError, "spec must be a dict with 'name'"),
        (lambda: MLP(0, 1), ValueError, "in_dim must be a positive int, got 0"),
        (lambda: MLP(2, 1.5), TypeError, "out_dim must be a positive int, got 1.5"),
        (lambda: MLP(2, 1, width=4, depth=1)(torch.randn(5, 3)), ValueError,
         r"MLP expects \(\.\.\., in_dim=2\), got shape \(5, 3\)"),
        (lambda: MLP(2, 1, width=4, depth=1)(torch.randn(5, 2, dtype=torch.float64)), TypeError, "float32 weights"),
        (lambda: PINNNet(2, embedding="fourier"), TypeError, "embedding must be an nn.Module with an int out_dim"),
        (lambda: PINNNet(2, embedding=[FourierFeatures(2), "x"]), TypeError, r"embedding\[1\] must be an nn.Module"),
        (lambda: EulerianPINN(None), TypeError, "residual must be callable"),
        (lambda: EulerianPINN(lambda *a: 0, length=0.0), ValueError, "length must be > 0"),
        (lambda: EulerianPINN(lambda *a: 0, hard_initial="yes"), TypeError, "hard_initial must be True or False"),
        (lambda: NeuralODE(lambda t, y: y), TypeError, "func must be an nn.Module"),
        (lambda: NeuralODE(field(), method="bogus"), ValueError, "unknown method 'bogus'"),
        (lambda: NeuralODE(field(), rtol=-1.0), ValueError, "rtol must be > 0"),
        (lambda: NeuralODE(field(), atol=NAN), ValueError, "atol must be finite"),
        (lambda: NeuralODE(field(), seed=1.5), TypeError, "seed must be a non-negative int"),
        (lambda: NeuralODE(field(), adjoint="yes"), TypeError, "adjoint must be True, False"),
        (lambda: NeuralODE(field(), max_steps=0), ValueError, "max_steps must be a positive int"),
        (lambda: NeuralSDE(field(), field(), noise_type="bogus"), ValueError, "unknown noise_type 'bogus'"),
        (lambda: NeuralSDE(field(), field(), sde_type="bogus"), ValueError, "unknown sde_type 'bogus'"),
        (lambda: NeuralSDE(field(), field(), method="srk99"), ValueError, "unknown method 'srk99'; known: "),
        (lambda: NeuralSDE(field(), field(), method="heun"), ValueError, "'heun' solves stratonovich SDEs, not ito"),
        (lambda: NeuralSDE(lambda t, y: y, field()), TypeError, "drift must be an nn.Module"),
        (lambda: NeuralSDE(field(), field(), rtol=0.0), ValueError, "rtol must be > 0"),
    ]


@pytest.mark.parametrize("case", range(len(_issue22_model_cases())))
def test_issue22_model_arguments_are_checked_up_front(case):
    build, error, fragment = _issue22_model_cases()[case]
    with pytest.raises(error, match=fragment):
        build()


def test_mlp_still_maps_leading_axes_and_sfno_takes_a_negative_beta():
    from sciml.nn import MLP

    assert MLP(2, 3, width=4, depth=1)(torch.randn(4, 5, 2)).shape == (4, 5, 3)
    assert SFNO(beta=-1e-2).beta == -1e-2  # the paper's decaying-turbulence rate
