"""sciml.train.minimize: Adam and L-BFGS on the Rosenbrock function and a quadratic,
stop reasons, history length, parameter groups, the callback and argument errors."""

import pytest
import torch

from sciml.train import LBFGS, minimize


def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def _start():
    return torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)


def test_lbfgs_converges_on_rosenbrock():
    p = _start()
    result = minimize(lambda: _rosenbrock(p), [p], method="lbfgs", steps=500, lr=1.0, tolerance_grad=1e-10,
                      tolerance_change=1e-14)
    assert result.converged and result.stop_reason in ("tolerance_grad", "tolerance_change")
    torch.testing.assert_close(p.detach(), torch.ones(2, dtype=torch.float64), atol=1e-6, rtol=0)
    assert result.evaluations == len(result.history) > result.iterations
    assert result.loss == result.history[-1] < 1e-12
    assert result.wall_time > 0


def test_lbfgs_is_the_lbfgs_optimiser():
    """Same iterates as LBFGS driven by hand with the same settings."""
    p, q = _start(), _start()
    minimize(lambda: _rosenbrock(p), [p], method="lbfgs", steps=7, lr=1.0)
    opt = LBFGS([q], lr=1.0, max_iter=7, tolerance_grad=0.0, tolerance_change=0.0)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(q)
        loss.backward()
        return loss

    opt.step(closure)
    assert torch.equal(p.detach(), q.detach())


def test_lbfgs_reports_running_out_of_its_budget():
    """L-BFGS's evaluation budget is its default, 5/4 of the iterations."""
    p = _start()
    result = minimize(lambda: _rosenbrock(p), [p], method="lbfgs", steps=3, lr=1.0)
    assert result.stop_reason in ("max_iter", "max_eval") and not result.converged and result.iterations <= 3
    p = _start()
    result = minimize(lambda: _rosenbrock(p), [p], method="lbfgs", steps=40, lr=1e-3)
    assert result.stop_reason == "max_eval" and result.iterations < 40 and result.evaluations > 50


def test_adam_is_torch_adam_and_history_has_one_loss_per_iterate():
    """``steps`` Adam steps, the same iterates as torch.optim.Adam, and ``steps + 1``
    losses: one per iterate, the last at the returned parameters."""
    p, q = _start(), _start()
    seen = []
    result = minimize(lambda: _rosenbrock(p), [p], steps=25, lr=1e-2, callback=lambda i, loss: seen.append((i, loss)))
    opt = torch.optim.Adam([q], lr=1e-2)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = _rosenbrock(q)
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
    assert torch.equal(p.detach(), q.detach())
    assert result.history[:-1] == losses and result.history[-1] == float(_rosenbrock(q.detach()))
    assert result.stop_reason == "max_iter" and result.iterations == 25 and result.evaluations == 26
    assert seen == [(i, loss) for i, loss in enumerate(losses)]


def test_adam_converges_on_a_quadratic_with_parameter_groups():
    """Two groups with their own learning rates, as the refiner uses them."""
    a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    target_a, target_b = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64), torch.tensor([0.5, 0.25],
                                                                                             dtype=torch.float64)

    def loss():
        return (a - target_a).square().sum() + 10 * (b - target_b).square().sum()

    result = minimize(loss, [{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.02}], steps=2000,
                      tolerance_grad=1e-9)
    assert result.stop_reason == "tolerance_grad" and result.converged and result.iterations < 2000
    assert len(result.history) == result.iterations + 1
    torch.testing.assert_close(a.detach(), target_a, atol=1e-8, rtol=0)
    torch.testing.assert_close(b.detach(), target_b, atol=1e-8, rtol=0)


def test_adam_stops_on_small_change_and_on_non_finite_loss():
    p = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    result = minimize(lambda: (p - 1).square().sum(), [p], steps=5000, lr=0.05, tolerance_change=1e-10)
    assert result.stop_reason == "tolerance_change" and result.iterations < 5000
    assert abs(result.history[-1] - result.history[-2]) < 1e-10
    assert len(result.history) == result.iterations + 1

    q = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    result = minimize(lambda: torch.log(q - 1.5).sum(), [q], steps=10)  # nan at the start
    assert result.stop_reason == "non_finite" and result.iterations == 0 and len(result.history) == 1
    assert q.item() == 1.0  # no step was taken on the nan


def test_errors():
    p = _start()
    with pytest.raises(ValueError, match="unknown method 'sgd'; known: adam, lbfgs"):
        minimize(lambda: _rosenbrock(p), [p], method="sgd")
    with pytest.raises(ValueError, match="steps must be a positive int"):
        minimize(lambda: _rosenbrock(p), [p], steps=0)
    with pytest.raises(TypeError, match="steps"):
        minimize(lambda: _rosenbrock(p), [p], steps=2.0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        minimize(lambda: _rosenbrock(p), [p], lr=0.0)
    with pytest.raises(ValueError, match="tolerance_change must be >= 0"):
        minimize(lambda: _rosenbrock(p), [p], tolerance_change=-1.0)
    with pytest.raises(TypeError, match="objective must be callable"):
        minimize(1.0, [p])
    with pytest.raises(ValueError, match="L-BFGS"):
        minimize(lambda: _rosenbrock(p), [p], method="lbfgs", callback=lambda i, loss: None)
