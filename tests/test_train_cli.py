"""`sciml train` / `sciml evaluate` from YAML configs on generated data."""

import json

import pytest
import torch

from problems import Darcy
from sciml.app import load
from sciml.cli import main
from sciml.data import FieldDataset, NormalizedModel
from sciml.operators import fno
from sciml.train import Trainer, load_checkpoint, save_checkpoint
from sciml.train.losses import LpLoss


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train = Darcy(resolution=17).generate(40, root / "train.h5", seed=0, progress=False)
    test = Darcy(resolution=17).generate(8, root / "test.h5", seed=1, progress=False)
    fine = Darcy(resolution=33).generate(8, root / "fine.h5", seed=2, progress=False)
    return train, test, fine


def _config(tmp_path, files):
    train, test, fine = files
    path = tmp_path / "run.yaml"
    path.write_text(f"""
seed: 0
out_dir: {tmp_path / 'run'}
data: {{format: h5, train: {train}, test: {{t17: {test}, t33: {fine}}}, normalize_inputs: scalar,
        normalize_outputs: scalar}}
model: {{name: fno, n_modes: [4, 4], hidden_channels: 8, n_layers: 2}}
optimizer: {{name: adam, lr: 1.0e-2}}
loss: {{name: h1, args: {{periodic: false, method: fd}}}}
metrics: [l2, h1]
trainer: {{max_epochs: 2, batch_size: 10, progress: false, threads: 1}}
""")
    return path


def test_train_evaluate_and_resume(tmp_path, files, capsys):
    cfg = _config(tmp_path, files)
    assert main(["train", str(cfg)]) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert len(rows) == 2 and {"t17/l2", "t33/h1", "train/loss"} <= set(rows[-1])
    # evaluate rebuilds the model (normalisers included) from the checkpoint alone
    assert main(["evaluate", str(tmp_path / "run" / "latest.pt")]) == 0
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert abs(float(printed["t33/l2"]) - rows[-1]["t33/l2"]) < 1e-6
    # sciml.app.load rebuilds the same model from the recorded spec (the config is not written back)
    state = load_checkpoint(tmp_path / "run" / "latest.pt")
    spec = state["metadata"]["model"]
    assert spec["name"] == "fno" and spec["kwargs"]["in_channels"] == 1 and spec["kwargs"]["hidden_channels"] == 8
    assert "in_channels" not in state["metadata"]["config"]["model"]
    assert spec["normalizers"] == {"input": {"pointwise": False, "eps": 1e-6}, "output": {"pointwise": False,
                                                                                          "eps": 1e-6}}
    model = load(tmp_path / "run" / "latest.pt")
    assert isinstance(model, NormalizedModel) and not model.training
    fine = FieldDataset(files[2], in_memory=True)
    x, y = torch.stack([fine[i]["x"] for i in range(8)]), torch.stack([fine[i]["y"] for i in range(8)])
    with torch.no_grad():
        pred = model(x)
    assert abs(float(LpLoss(reduction="sum")(pred, y)) / 8 - rows[-1]["t33/l2"]) < 1e-6
    # a checkpoint of the earlier format (configuration only, channel counts in it) still loads
    del state["metadata"]["model"]
    state["metadata"]["config"]["model"].update(in_channels=1, out_channels=1)
    save_checkpoint(tmp_path / "old.pt", state)
    with torch.no_grad():
        assert torch.equal(load(tmp_path / "old.pt")(x), pred)
    # a larger max_epochs resumes from latest.pt and runs only the missing epoch
    assert main(["train", str(cfg), "trainer.max_epochs=3"]) == 0
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_evaluate_a_python_trainer_checkpoint(tmp_path, files, capsys):
    """`sciml evaluate` takes any checkpoint with a recorded spec; the data come from --data."""
    train, test, _ = files
    torch.manual_seed(0)
    model = fno(n_modes=(4, 4), hidden_channels=8, n_layers=2)
    trainer = Trainer(model, LpLoss(), max_epochs=1, batch_size=10, checkpoint_dir=tmp_path / "py", progress=False,
                      metrics={"l2": LpLoss(reduction="sum")})
    trainer.fit(FieldDataset(train, in_memory=True))
    expected = trainer.evaluate({"t17": FieldDataset(test, in_memory=True)})["t17/l2"]
    assert main(["evaluate", str(tmp_path / "py" / "latest.pt"), "--data", f"t17={test}"]) == 0
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert float(printed["t17/l2"]) == pytest.approx(expected, rel=1e-5)  # printed to 6 significant digits
    assert main(["evaluate", str(tmp_path / "py" / "latest.pt")]) == 2
    assert "no data to evaluate: pass --data NAME=FILE" in capsys.readouterr().err


def test_cli_errors(tmp_path, files, capsys):
    cfg = _config(tmp_path, files)
    assert main(["train", str(cfg), "optimizer.lrr=1"]) == 2
    assert "unknown key 'lrr' in optimizer" in capsys.readouterr().err
    assert main(["train", str(cfg), "trainer.batch_size=ten"]) == 2
    assert "trainer.batch_size: expected int" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
