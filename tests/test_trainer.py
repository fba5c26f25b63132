"""The Trainer: fitting, evaluation and logs, exact resume, atomic checkpoints, recorded
model specs (any checkpoint rebuilds its model with sciml.app.load)."""

import json

import pytest
import torch

from sciml.app import load
from sciml.data import GaussianNormalizer, NormalizedModel, TensorFieldDataset
from sciml.operators import MgNO, fno
from sciml.train import Trainer, model_spec, record_spec
from sciml.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sciml.train.losses import LpLoss


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, generator=g)
    return TensorFieldDataset(x, 2 * x + 0.5 * x**2, spatial=1)


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv1d(1, 16, 1), torch.nn.Tanh(), torch.nn.Dropout(0.1),
                               torch.nn.Conv1d(16, 1, 1))


def _trainer(model, tmp, **kw):
    opts = dict(optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
                scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5), max_epochs=6, batch_size=8,
                seed=1, checkpoint_dir=tmp, progress=False)
    opts.update(kw)
    return Trainer(model, LpLoss(reduction="mean"), **opts)


def test_fit_evaluate_log_and_best(tmp_path):
    t = _trainer(_model(), tmp_path, eval_sets={"val": _data(16, 1), "test": _data(16, 2)},
                 metrics={"l2": LpLoss(), "l1": LpLoss(p=1)}, monitor="val/l2")
    history = t.fit(_data())
    assert history[-1]["train/loss"] < 0.6 * history[0]["train/loss"]  # measured 0.39 / 0.75
    assert history[-1]["val/l2"] < 0.45 and {"test/l1", "lr", "seconds"} <= set(history[-1])
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert len(rows) == 6 and (tmp_path / "metrics.csv").read_text().startswith("epoch,step,train/loss")
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"] == min(r["val/l2"] for r in rows)
    # the per-step learning rates follow StepLR: 1e-2 for 3 epochs, then 5e-3
    assert [r["lr"] for r in rows] == pytest.approx([1e-2] * 3 + [5e-3] * 3)


def test_resume_is_bit_identical_also_mid_epoch(tmp_path):
    ref = _trainer(_model(), tmp_path / "ref")
    ref.fit(_data())
    for stop_after, where in ((3, "epoch"), (13, "mid-epoch")):
        run = tmp_path / where
        first = _trainer(_model(), run, save_every_steps=stop_after if where == "mid-epoch" else None,
                         max_epochs=stop_after if where == "epoch" else 6)
        if where == "mid-epoch":  # die right after the checkpoint of step 13 (epoch 2, batch 5 of 8)
            def boom(*args, **kwargs):
                if first.step == stop_after and (run / "latest.pt").exists():
                    raise KeyboardInterrupt
            first.model.register_forward_pre_hook(boom)
            with pytest.raises(KeyboardInterrupt):
                first.fit(_data())
            assert load_checkpoint(run / "latest.pt")["batches_done"] == 5
        else:
            first.fit(_data())
        second = _trainer(_model(seed=99), run)  # different initial weights: all state must come from disk
        second.fit(_data(), resume="auto")
        for a, b in zip(ref.model.parameters(), second.model.parameters()):
            assert torch.equal(a, b), where


def test_early_stopping_and_gradient_clipping(tmp_path):
    t = _trainer(_model(), None, optimizer=lambda p: torch.optim.SGD(p, lr=0.0), max_epochs=20,
                 eval_sets={"val": _data(8, 3)}, monitor="val/loss", early_stopping=2)
    assert len(t.fit(_data())) == 3  # lr 0: no improvement after the first evaluation
    norms = []
    clipped = _trainer(_model(), None, grad_clip=1e-3, max_epochs=1)
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm):
        params = list(params)
        original(params, max_norm)
        norms.append(torch.norm(torch.stack([p.grad.norm() for p in params])).item())

    torch.nn.utils.clip_grad_norm_ = spy
    try:
        clipped.fit(_data())
    finally:
        torch.nn.utils.clip_grad_norm_ = original
    assert len(norms) == 8 and max(norms) <= 1e-3 * (1 + 1e-6)


def test_atomic_save_and_checkpoint_errors(tmp_path, monkeypatch):
    path = tmp_path / "latest.pt"
    save_checkpoint(path, {"a": torch.ones(3)})

    def dies(obj, handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"a": torch.zeros(3)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["a"], torch.ones(3))  # the old checkpoint survived
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    t = _trainer(_model(), tmp_path / "run", max_epochs=1)
    t.fit(_data())
    other = Trainer(torch.nn.Linear(3, 3), LpLoss(), progress=False)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        other.fit(_data(), resume=tmp_path / "run" / "latest.pt")


def test_objective_style_and_bad_arguments():
    model = torch.nn.Linear(1, 1)
    data = TensorFieldDataset(torch.linspace(0, 1, 32)[:, None], 3 * torch.linspace(0, 1, 32)[:, None], spatial=0)

    def objective(m, batch):
        return ((m(batch["x"]) - batch["y"]) ** 2).mean()

    t = Trainer(model, objective=objective, optimizer=lambda p: torch.optim.Adam(p, lr=0.1), max_epochs=30,
                batch_size=8, progress=False)
    t.fit(data)
    assert abs(model.weight.item() - 3) < 0.1
    with pytest.raises(ValueError, match="exactly one"):
        Trainer(model, LpLoss(), objective=objective)
    with pytest.raises(ValueError, match="monitor 'val/l3' is not logged"):
        Trainer(model, LpLoss(), eval_sets={"val": data}, monitor="val/l3")
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, LpLoss(), scheduler_interval="batch")


def test_mixed_precision_on_cpu_trains_in_bfloat16(tmp_path):
    seen = []
    model = _model()
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    t = _trainer(model, tmp_path, mixed_precision=True, max_epochs=2)
    history = t.fit(_data())
    assert seen[0] == torch.bfloat16 and history[-1]["train/loss"] < history[0]["train/loss"]
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay float32


def test_tensorboard_needs_a_directory():
    with pytest.raises((ValueError, ImportError)):
        Trainer(_model(), LpLoss(), tensorboard=True)


def _fields(n=12, s=17):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(n, 1, s, s, generator=g)
    return TensorFieldDataset(x, torch.tanh(x) + 0.1 * x.roll(1, -1), spatial=2)


def test_python_trainer_checkpoints_load_with_the_recorded_spec(tmp_path):
    """Models built directly in Python (an MgNO inside a NormalizedModel, a bare FNO from
    sciml.operators.fno) record their full constructor spec; sciml.app.load rebuilds them
    from the checkpoint alone, normalisers included, with identical outputs."""
    data = _fields()
    x, y = data.x, data.y
    torch.manual_seed(0)
    core = MgNO(channels=8, n_layers=2, num_iteration=((1, 0), (1, 0), (2, 0)))
    assert model_spec(core) == {"name": "mgno", "kwargs": {
        "in_channels": 1, "out_channels": 1, "channels": 8, "n_layers": 2, "num_iteration": [[1, 0], [1, 0], [2, 0]],
        "padding_mode": "zeros", "periodic_prolongation": None, "residual_restriction": False, "grid_size": None,
        "activation": "gelu"}}
    models = {"mgno": NormalizedModel(core, GaussianNormalizer(pointwise=False).fit(x), GaussianNormalizer().fit(y)),
              "fno": fno(n_modes=(4, 4), hidden_channels=8, n_layers=2)}
    for name, model in models.items():
        Trainer(model, LpLoss(), max_epochs=1, batch_size=4, checkpoint_dir=tmp_path / name, progress=False).fit(data)
        metadata = load_checkpoint(tmp_path / name / "latest.pt")["metadata"]
        assert metadata["model"]["name"] == name
        loaded = load(tmp_path / name / "latest.pt")
        assert type(loaded) is type(model) and not loaded.training
        model.eval()
        with torch.no_grad():
            assert torch.equal(loaded(x), model(x)), name
    assert metadata["model"]["kwargs"]["n_modes"] == [4, 4] and "normalizers" not in metadata["model"]
    mgno_spec = load_checkpoint(tmp_path / "mgno" / "latest.pt")["metadata"]["model"]
    assert mgno_spec["normalizers"] == {"input": {"pointwise": False, "eps": 1e-6}, "output": {"pointwise": True,
                                                                                               "eps": 1e-6}}


def test_checkpoints_without_a_spec_say_how_to_write_one(tmp_path):
    _trainer(_model(), tmp_path, max_epochs=1).fit(_data())
    assert "model" not in load_checkpoint(tmp_path / "latest.pt")["metadata"]  # a Sequential has no spec
    with pytest.raises(CheckpointError, match=r"records no model spec.*build_model"):
        load(tmp_path / "latest.pt")
    with pytest.raises(ValueError, match="metadata\\['model'\\] is reserved"):
        Trainer(_model(), LpLoss(), metadata={"model": "mine"})


def test_record_spec_records_plain_constructor_arguments_only():
    @record_spec("scaled")
    class Scaled(torch.nn.Module):
        def __init__(self, width: int = 2, shape=(3, 4), weight=None):
            super().__init__()
            self.linear = torch.nn.Linear(width, width)

    class Sub(Scaled):
        pass

    assert model_spec(Scaled(5)) == {"name": "scaled", "kwargs": {"width": 5, "shape": [3, 4], "weight": None}}
    assert model_spec(Scaled(weight=torch.ones(1))) is None  # a tensor argument cannot be rebuilt from keywords
    assert model_spec(Sub()) is None  # an undecorated subclass is not the registered model
    with pytest.raises(TypeError, match="named parameters only"):
        record_spec("variadic")(lambda *sizes: torch.nn.Linear(*sizes))
