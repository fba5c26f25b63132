"""Bad inputs to the Trainer, the optimisation loop, L-BFGS and the simulation layer:
each raises at once with the argument's name (issue 22), never deep inside torch or
silently."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

from sciml.sim import LearnedStepper, Simulation, invert, relative_error
from sciml.train import LBFGS, Trainer, minimize

NAN = float("nan")


def _data(n=4):
    return TensorDataset(torch.randn(n, 1, 8), torch.randn(n, 1, 8))


def _trainer(**kw):
    kw.setdefault("loss", torch.nn.functional.mse_loss)
    return Trainer(torch.nn.Conv1d(1, 1, 1), max_epochs=1, progress=False, **kw)


def _w():
    return [torch.nn.Parameter(torch.ones(2))]


class _Halve:
    dt = 0.1

    def __call__(self, u):
        return u / 2


CASES = [
    (lambda: _trainer(eval_sets=[1, 2]), TypeError, r"eval_sets must be a dict \{name: a dataset\}"),
    (lambda: _trainer(eval_sets={"val": 3}), TypeError, r"eval_sets\['val'\] must be a dataset"),
    (lambda: _trainer(eval_sets={"val": [1, 2]}), TypeError, r"eval_sets\['val'\] must be a dataset of tensors"),
    (lambda: _trainer(metrics=["l2"]), TypeError, r"metrics must be a dict \{name: a callable"),
    (lambda: _trainer(metrics={"l2": "l2"}), TypeError, r"metrics\['l2'\] must be callable"),
    (lambda: _trainer().fit([1, 2, 3]), TypeError, "train_set must be a dataset of tensors"),
    (lambda: _trainer().fit(5), TypeError, "train_set must be a dataset"),
    (lambda: minimize(lambda: torch.tensor(0.0), []), ValueError, "params is empty"),
    (lambda: minimize(lambda: torch.tensor(0.0), torch.ones(2)), TypeError, "params must be a list of tensors"),
    (lambda: minimize(lambda: torch.tensor(0.0), [torch.ones(2)]), ValueError, r"params\[0\] does not require grad"),
    (lambda: minimize(lambda: torch.tensor(0.0), [3.0]), TypeError, r"params\[0\] must be a tensor"),
    (lambda: LBFGS(_w(), lr=-1.0), ValueError, "lr must be > 0"),
    (lambda: LBFGS(_w(), history_size=0), ValueError, "history_size must be a positive int"),
    (lambda: LBFGS(_w(), line_search_fn="bogus"), ValueError, "unknown line_search_fn 'bogus'"),
    (lambda: LBFGS(_w(), max_iter=0), ValueError, "max_iter must be a positive int"),
    (lambda: LBFGS(_w(), max_eval=1.5), TypeError, "max_eval must be a positive int"),
    (lambda: LBFGS(_w(), tolerance_grad=-1.0), ValueError, "tolerance_grad must be >= 0"),
    (lambda: LearnedStepper(lambda u: u, 0.1), TypeError, "model must be an nn.Module"),
    (lambda: Simulation(_Halve(), diagnostics=[len]), TypeError, "diagnostics must be a dict \\{name: fn\\(state\\)\\}"),
    (lambda: Simulation(_Halve(), diagnostics={"e": 1}), TypeError, r"diagnostics\['e'\] must be callable"),
    (lambda: invert(None, torch.zeros(1, 2), torch.zeros(1, 2)), TypeError, "forward must be callable"),
    (lambda: invert(lambda x: x, torch.full((1, 2), NAN), torch.zeros(1, 2), steps=2), ValueError,
     "observations contains NaN or Inf"),
    (lambda: invert(lambda x: x, torch.zeros(1, 2), torch.zeros(1, 2, dtype=torch.long)), TypeError,
     "latent0 must be a floating-point tensor"),
    (lambda: relative_error(torch.ones(2, 4), torch.ones(2, 5)), ValueError,
     r"u and reference must have the same shape .* got \(2, 4\) and \(2, 5\)"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bad_arguments_raise_at_once(case):
    call, error, fragment = CASES[case]
    with pytest.raises(error, match=fragment):
        call()


def test_nan_objective_is_a_stop_reason_without_a_step():
    p = _w()
    result = minimize(lambda: p[0].sum() * math.nan, p, steps=5)
    assert result.stop_reason == "non_finite" and result.iterations == 0
    assert torch.equal(p[0].detach(), torch.ones(2))


def test_dict_eval_sets_and_metrics_still_train():
    history = _trainer(eval_sets={"val": _data(2)}, metrics={"mse": torch.nn.functional.mse_loss}).fit(_data())
    assert math.isfinite(history[-1]["val/mse"])
