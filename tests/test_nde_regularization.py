"""NeuralODE and the global (ERNODE / SRNODE) regularisers."""

import math

import pytest
import torch
from torch import nn

from sciml.nde import LambdaSchedule, NeuralODE, TaylorField, local_error, regularizer, steer_time, total_derivative
from sciml.solvers import step_error

DT = torch.float64


class Field(nn.Module):
    def __init__(self, seed=0, width=16):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, 2)).double()

    def forward(self, t, z):
        return self.net(z)


def _model(kind, **kw):
    return NeuralODE(Field(), rtol=1e-5, atol=1e-5, regularize=kind, **kw)


def test_error_regularizer_equals_the_sum_over_recorded_steps():
    """R_E = sum_j |h_j| E_j rebuilt by hand: one differentiable step from the solution at
    every accepted step's start, with that step's size."""
    model = _model("error")
    z0 = torch.tensor([[1.0, -0.5], [0.3, 0.8]], dtype=DT)
    model(z0, torch.tensor([0.0, 2.0], dtype=DT))
    stats, ends = model.stats, [0.0] + list(model.stats.step_ts)
    # the dense output at the step ends reproduces the step starts
    starts = NeuralODE(model.func, rtol=1e-5, atol=1e-5)(z0, torch.tensor(ends, dtype=DT))
    errors = [step_error(model.func, ends[j], starts[j], ends[j + 1] - ends[j], rtol=1e-5, atol=1e-5).error
              for j in range(len(ends) - 1)]
    by_hand = sum(abs(ends[j + 1] - ends[j]) * e for j, e in enumerate(errors))
    assert stats.n_accepted == len(ends) - 1 > 3
    torch.testing.assert_close(regularizer(stats, "error_squared"), sum(e * e for e in errors).reshape(()),
                               rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(regularizer(stats, "error"), by_hand.reshape(()), rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(regularizer(stats, "error", "mean"), by_hand.reshape(()) / stats.n_accepted,
                               rtol=1e-6, atol=1e-12)


def test_stiffness_regularizer_is_scaled_by_the_stability_size():
    model = _model("stiffness")
    model(torch.tensor([[1.0, -0.5]], dtype=DT), torch.tensor([0.0, 1.0], dtype=DT))
    torch.testing.assert_close(model.regularization(), model.stats.stiffness_sum / 3.5068)


def test_gradient_matches_finite_differences_with_the_steps_frozen():
    """The regulariser is differentiable in the parameters; with step sizes held at the
    recorded ones (as the gradient treats them), a central difference agrees."""
    model = _model("error")
    z0 = torch.tensor([[1.0, -0.5]], dtype=DT)
    t = torch.tensor([0.0, 1.0], dtype=DT)
    model(z0, t)
    ends = [0.0] + list(model.stats.step_ts)
    w = model.func.net[2].weight

    def frozen(weight_value):
        with torch.no_grad():
            old = w.clone()
            w.copy_(weight_value)
        try:
            fixed = NeuralODE(model.func, method="tsit5", adaptive=False, dt=None)
            ys = [z0]
            total = torch.zeros((), dtype=DT)
            for j in range(len(ends) - 1):
                h = ends[j + 1] - ends[j]
                total = total + abs(h) * step_error(model.func, ends[j], ys[-1], h, rtol=1e-5, atol=1e-5).error
                ys.append(fixed(ys[-1], torch.tensor([ends[j], ends[j + 1]], dtype=DT))[-1])
            return total.reshape(())
        finally:
            with torch.no_grad():
                w.copy_(old)

    model(z0, t)
    reg = model.regularization()
    (grad,) = torch.autograd.grad(reg, w)
    direction = torch.randn(w.shape, generator=torch.Generator().manual_seed(0), dtype=DT)
    eps = 1e-6
    fd = (frozen(w.detach() + eps * direction) - frozen(w.detach() - eps * direction)) / (2 * eps)
    torch.testing.assert_close((grad * direction).sum(), fd, rtol=1e-4, atol=1e-10)


def test_regularizers_refuse_the_continuous_adjoint_and_bad_arguments():
    with pytest.raises(ValueError, match="adjoint"):
        NeuralODE(Field(), regularize="error", adjoint=True)
    with pytest.raises(ValueError, match="regularize"):
        NeuralODE(Field(), regularize="steps")
    model = NeuralODE(Field())
    with pytest.raises(RuntimeError, match="regularize"):
        model.regularization()
    model(torch.zeros(1, 2, dtype=DT), torch.tensor([0.0, 1.0], dtype=DT))
    with pytest.raises(ValueError, match="stiffness"):
        regularizer(model.stats, "stiffness")


def test_lambda_schedules():
    s = LambdaSchedule(100.0, 10.0, epochs=75, kind="exponential")
    assert s(0) == pytest.approx(100.0) and s(75) == pytest.approx(10.0)
    assert s(37.5) == pytest.approx(math.sqrt(1000.0))
    assert LambdaSchedule(0.1)(50) == 0.1
    with pytest.raises(ValueError, match="exponential"):
        LambdaSchedule(1.0, None, kind="exponential")


def test_short_training_with_ernode_lowers_nfe():
    """Fit z1 = z0 + z0^3 (the papers' endpoint toy) for 60 Adam steps with and without
    R_E (lambda 0.1) from the same seed: the regularised field needs fewer evaluations at
    test time for a loss within 2x."""
    g = torch.Generator().manual_seed(0)
    z0 = 2 * torch.rand(256, 1, generator=g, dtype=DT) - 1
    z1 = z0 + z0 ** 3
    t = torch.tensor([0.0, 1.0], dtype=DT)

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1)).double()

        def forward(self, t, z):
            return self.net(z)

    nfe = {}
    for lam in (0.0, 0.1):
        model = NeuralODE(Toy(), rtol=1e-8, atol=1e-8, regularize="error")
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(60):
            opt.zero_grad()
            loss = (model(z0, t)[-1] - z1).square().mean() + lam * model.regularization()
            loss.backward()
            opt.step()
        with torch.no_grad():
            mse = float((model(z0, t)[-1] - z1).square().mean())
        nfe[lam] = (model.nfe, mse)
    # measured: NFE 38 -> 32, MSE 0.022 -> 0.035 after 60 steps
    assert nfe[0.1][0] < nfe[0.0][0], nfe
    assert nfe[0.1][1] < 2 * nfe[0.0][1], nfe


def test_local_regularizer_is_one_step_from_the_dense_output():
    model = NeuralODE(Field(), rtol=1e-5, atol=1e-5, local="unbiased", seed=3)
    z0 = torch.tensor([[1.0, -0.5], [0.3, 0.8]], dtype=DT)
    t = torch.tensor([0.0, 0.5, 2.0], dtype=DT)
    ys = model(z0, t)
    plain = NeuralODE(model.func, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ys, plain(z0, t))  # the extra output time changes nothing
    assert 0.0 < model.t_s < 2.0
    u_s = plain(z0, torch.tensor([0.0, model.t_s], dtype=DT))[-1]
    value, nfe = local_error(model.func, model.t_s, u_s, 2.0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.regularization(), value)
    assert model.nfe == model.stats.nfe + nfe and nfe == 2 + 7  # step-size heuristic + tsit5 incl. its FSAL stage


def test_local_regularizer_works_with_the_adjoint_and_biased_sampling():
    model = NeuralODE(Field(), rtol=1e-5, atol=1e-5, local="biased", adjoint=True)
    z0 = torch.tensor([[1.0, -0.5]], dtype=DT)
    t = torch.tensor([0.0, 2.0], dtype=DT)
    model(z0, t)  # first call: no previous steps, an unbiased draw
    starts = [0.0] + list(model.stats.step_ts[:-1])
    ys = model(z0, t)
    assert any(abs(model.t_s - s) < 1e-12 for s in starts)
    (ys[-1].sum() + model.regularization()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    model(z0, t)
    assert model.local_value is None  # no local step at evaluation


def test_global_and_local_cannot_be_combined():
    with pytest.raises(ValueError, match="not both"):
        NeuralODE(Field(), regularize="error", local="unbiased")


def test_total_derivatives_of_a_linear_flow_and_the_taylor_integral():
    """dz/dt = A z: d^K z/dt^K = A^K z, and R_K over [0, 1] matches the closed form."""
    A = torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=DT)
    func = lambda t, z: z @ A.T  # noqa: E731
    z = torch.tensor([[1.0, 2.0]], dtype=DT)
    t = torch.tensor(0.0, dtype=DT)
    for k in (1, 2, 3):
        torch.testing.assert_close(total_derivative(func, t, z, k), z @ torch.linalg.matrix_power(A, k).T)

    class Linear(nn.Module):
        def forward(self, t, z):
            return z @ A.T

    from sciml.solvers import solve_ode
    ts = torch.linspace(0, 1, 2001, dtype=DT)
    ys = solve_ode(lambda s, y: y @ A.T, z, ts, rtol=1e-10, atol=1e-12).ys[:, 0]
    integrand = (ys @ torch.linalg.matrix_power(A, 2).T).square().mean(-1)
    expected = torch.trapezoid(integrand, ts)
    out = solve_ode(TaylorField(Linear(), 2), (z, torch.zeros(1, 1, dtype=DT)), ts[[0, -1]], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.ys[1][-1, 0, 0], expected, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="b="):
        steer_time(1.0, 1.5)
    assert 0.5 <= steer_time(1.0, 0.5, torch.Generator().manual_seed(0)) <= 1.5
