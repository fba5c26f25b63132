"""L-BFGS with a stopping reason, and the Trainer's closure path and per-term logs."""

import pytest
import torch

from sciml.train import LBFGS, Trainer


def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def test_stop_reasons():
    p = torch.nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
    opt = LBFGS([p], max_iter=3, max_eval=1000)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(p)
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.stop_reason == "max_iter" and not opt.converged and opt.iterations == 3
    opt.param_groups[0]["max_iter"] = 500
    opt.step(closure)
    assert opt.converged and opt.stop_reason in ("tolerance_grad", "tolerance_change")
    torch.testing.assert_close(p.detach(), torch.ones(2, dtype=torch.float64), atol=1e-4, rtol=0)
    opt.param_groups[0]["max_eval"] = 2
    p.data = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    opt.state.clear()
    opt.step(closure)
    assert opt.stop_reason == "max_eval"


def test_non_finite_is_reported():
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = LBFGS([p], max_iter=5, line_search_fn=None)

    def closure():
        opt.zero_grad()
        loss = torch.sqrt(p - 2.0).sum()  # nan
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.stop_reason == "non_finite"


class _Quadratic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))


def _objective(model, batch):
    a = (model.w[0] - 1) ** 2
    b = 10 * (model.w[1] + 2) ** 2 + (model.w[2] - model.w[1]) ** 2
    return a + b, {"first": a.detach(), "rest": b.detach()}


def test_trainer_logs_terms_and_stops_when_lbfgs_converges(tmp_path):
    data = [torch.zeros(1)]  # full batch: one item, one step per epoch
    trainer = Trainer(_Quadratic(), objective=_objective, optimizer=lambda p: LBFGS(p, max_iter=5),
                      max_epochs=50, batch_size=1, progress=False, checkpoint_dir=str(tmp_path))
    history = trainer.fit(data)
    assert len(history) < 50 and history[-1]["stop_reason"] in ("tolerance_grad", "tolerance_change")
    assert history[0]["stop_reason"] == "max_iter"
    first = history[0]
    assert abs(first["train/first"] + first["train/rest"] - first["train/loss"]) < 1e-12
    torch.testing.assert_close(trainer.model.w.detach(), torch.tensor([1.0, -2.0, -2.0], dtype=torch.float64),
                               atol=1e-5, rtol=0)
    assert (tmp_path / "latest.pt").is_file()


def test_terms_with_adam_are_epoch_means():
    trainer = Trainer(_Quadratic(), objective=_objective, optimizer=lambda p: torch.optim.SGD(p, lr=0.0),
                      max_epochs=1, batch_size=1, progress=False)
    record = trainer.fit([torch.zeros(1), torch.zeros(1)])[0]
    assert record["train/first"] == pytest.approx(1.0) and record["train/rest"] == pytest.approx(40.0)


def test_lbfgs_refuses_grad_clipping():
    with pytest.raises(ValueError, match="L-BFGS"):
        Trainer(_Quadratic(), objective=_objective, optimizer=lambda p: LBFGS(p), grad_clip=1.0)
