"""Export of trained operators: the reloaded program equals the eager model to 1e-6, and
drives a plain time-stepping loop exactly as the in-process stepper does."""

import warnings

import pytest
import torch

from sciml.operators import build_model
from sciml.sim import LearnedStepper, Simulation, export_model, load_exported

CASES = {
    "mgno": ({"name": "mgno", "in_channels": 1, "out_channels": 1, "channels": 8, "n_layers": 2,
              "num_iteration": [[1, 0]] * 3}, (2, 1, 17, 17)),
    "fno": ({"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [6, 6], "hidden_channels": 8}, (2, 1, 24, 24)),
    "sfno": ({"name": "sfno", "modes": [6, 6, 3], "width": 8, "n_layers": 2}, (2, 1, 5, 16, 16)),
}


def _max_rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("fmt", ["export", "torchscript"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_equals_the_eager_model(tmp_path, name, fmt):
    torch.manual_seed(0)
    spec, shape = CASES[name]
    model = build_model(spec).eval()
    x = torch.randn(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_model(model, x, tmp_path / name, format=fmt)
    assert path.suffix == (".pt2" if fmt == "export" else ".pt") and path.is_file()
    assert not list(tmp_path.glob(".*tmp*"))
    loaded = load_exported(path)
    other = torch.randn(shape)  # new inputs, same batch
    with torch.no_grad():
        assert _max_rel(loaded(other), model(other)) < 1e-6


def test_exported_operator_in_a_plain_loop(tmp_path):
    torch.manual_seed(1)
    model = build_model(CASES["mgno"][0]).eval()
    u0 = torch.randn(3, 1, 17, 17)
    path = export_model(model, u0, tmp_path / "stepper", format="torchscript")
    step = torch.jit.load(str(path))  # what a script without sciml does
    u, frames = u0, [u0]
    with torch.no_grad():
        for _ in range(5):
            u = step(u)
            frames.append(u)
    inside = Simulation(LearnedStepper(model, dt=0.1)).run(u0, 5)
    assert _max_rel(torch.stack(frames), inside.states) < 1e-6


def test_export_errors(tmp_path):
    model = torch.nn.Conv2d(1, 1, 3, padding=1)
    with pytest.raises(ValueError, match="format"):
        export_model(model, torch.zeros(1, 1, 4, 4), tmp_path / "m", format="onnx")
    with pytest.raises(TypeError, match="example"):
        export_model(model, [1, 2], tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        load_exported(tmp_path / "missing.pt2")
    # a dynamic batch is kept where the model allows it
    path = export_model(model, torch.zeros(2, 1, 4, 4), tmp_path / "conv")
    assert load_exported(path)(torch.ones(5, 1, 4, 4)).shape == (5, 1, 4, 4)
