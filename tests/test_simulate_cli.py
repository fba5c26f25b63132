"""Time-stepper training through `sciml train` (step pairs), `load_stepper`, and
`sciml simulate CONFIG` writing an HDF5 trajectory; the simulate configuration's checks."""

import re

import h5py
import pytest
import torch
import yaml

from problems import NavierStokes
from sciml.app import ConfigError, load, load_simulation_config, load_stepper
from sciml.cli import main
from sciml.data import FieldDataset
from sciml.sim import Simulation
from sciml.train import load_checkpoint


@pytest.fixture(scope="module")
def ns_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ns") / "ns16.h5"
    NavierStokes(resolution=16, t_end=2.0, n_times=5, dt=1e-2).generate(4, path, progress=False)
    return path


def test_step_pairs(ns_file):
    data = FieldDataset(ns_file, step_lag=2, in_memory=True)
    assert len(data) == 4 * 3
    with h5py.File(ns_file) as f:
        paths = torch.from_numpy(f["outputs"][()])
    item = data[3 * 2 + 1]  # sample 2, frame 1 -> frame 3
    assert torch.equal(item["x"][0], paths[2, 1]) and torch.equal(item["y"][0], paths[2, 3])
    with pytest.raises(ValueError, match="step_lag must be an int in"):
        FieldDataset(ns_file, step_lag=5)


@pytest.fixture(scope="module")
def stepper_run(ns_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = {"seed": 0, "out_dir": str(out / "run"),
           "data": {"format": "h5", "train": str(ns_file), "step_lag": 1, "normalize_inputs": "none"},
           "model": {"name": "fno", "n_modes": [4, 4], "hidden_channels": 6},
           "trainer": {"max_epochs": 1, "batch_size": 8, "progress": False, "threads": 1}}
    path = out / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0
    return out / "run" / "latest.pt"


def test_load_stepper_from_a_train_checkpoint(stepper_run, ns_file):
    stepper = load_stepper(stepper_run)
    assert stepper.dt == pytest.approx(0.5)  # frames 0.5 apart, lag 1
    model, metadata = load(stepper_run), load_checkpoint(stepper_run)["metadata"]
    assert metadata["stepper"]["dt"] == pytest.approx(0.5)
    u0 = torch.randn(2, 1, 16, 16)
    r = Simulation(stepper).run(u0, 3)
    with torch.no_grad():
        u = u0
        for _ in range(3):
            u = model(u)
    assert torch.equal(r.states[-1], u)
    assert load_stepper(stepper_run, dt=0.25).dt == 0.25


def _config(tmp_path, **extra):
    cfg = {"problem": {"name": "navier_stokes", "resolution": 16, "t_end": 2.0, "n_times": 5, "dt": 1e-2},
           "initial": {"n": 2, "seed": 3}, "steps": 4, "reference": True, "out": str(tmp_path / "traj.h5"),
           "progress": False, **extra}
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_simulate_solver_writes_the_trajectory(tmp_path, capsys):
    assert main(["simulate", str(_config(tmp_path))]) == 0
    printed = capsys.readouterr().out
    assert "completed, 4 steps to t = 2" in printed and "traj.h5" in printed
    problem = NavierStokes(resolution=16, t_end=2.0, n_times=5, dt=1e-2)
    w0 = problem.sample_inputs(2, generator=torch.Generator().manual_seed(3)).double()
    expected = problem.solve(w0)
    with h5py.File(tmp_path / "traj.h5") as f:
        states, times = f["states"][()], f["times"][()]
        assert f.attrs["status"] == "completed" and f.attrs["steps"] == 4
        assert set(f["diagnostics"]) == {"rms", "error", "energy", "enstrophy", "mean", "spectrum"}
        assert float(f["diagnostics/error"][()].max()) < 1e-13
    assert states.shape == (5, 2, 1, 16, 16) and times.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert float((torch.from_numpy(states[:, :, 0]).movedim(0, 1) - expected).abs().max()) < 1e-12


def test_simulate_a_trained_stepper_and_overrides(tmp_path, stepper_run):
    path = _config(tmp_path, stepper={"kind": "model", "checkpoint": str(stepper_run)})
    assert main(["simulate", str(path), "steps=2", f"out={tmp_path / 'model.h5'}"]) == 0
    with h5py.File(tmp_path / "model.h5") as f:
        assert f["states"].shape == (3, 2, 1, 16, 16) and f.attrs["stepper"] == "model"
        assert float(f["diagnostics/error"][()][-1].mean()) > 0  # an untrained-ish model is not the solver


def test_simulate_reports_configuration_errors(tmp_path, capsys):
    assert main(["simulate", str(_config(tmp_path, stepper={"kind": "model"}))]) == 2
    assert "needs stepper.checkpoint" in capsys.readouterr().err
    assert main(["simulate", str(_config(tmp_path, bogus=1))]) == 2
    assert "unknown key 'bogus'; known: problem, initial, stepper" in capsys.readouterr().err
    assert main(["simulate", str(_config(tmp_path, stepper={"kind": "model", "checkpoint": "nope.pt"}))]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "missing.yaml")]) == 2
    assert not (tmp_path / "traj.h5").exists()


def test_simulation_config_is_typed(tmp_path):
    cfg = load_simulation_config(_config(tmp_path), ["stepper.substeps=5", "blowup_factor=100"])
    assert cfg.stepper.kind == "solver" and cfg.stepper.substeps == 5 and cfg.blowup_factor == 100.0
    assert cfg.initial.n == 2 and cfg.initial.seed == 3 and cfg.problem["name"] == "navier_stokes" and cfg.steps == 4


@pytest.mark.parametrize("override, message", [
    ("stepper.substep=2", "unknown key 'substep' in stepper; known: kind, substeps, checkpoint, dt, coarse_resolution; "
                          "did you mean 'substeps'?"),
    ("stepper.substeps=1.5", "stepper.substeps: expected int, got 1.5"),
    ("stepper.kind=hybrid", "stepper.kind: expected one of 'solver', 'model', 'corrected', got 'hybrid'"),
    ("stepper.dt=-1", "stepper.dt must be"),
    ("initial.n=0", "initial.n must be a positive int, got 0"),
    ("initial={n: 2, seeds: 1}", "unknown key 'seeds' in initial; known: n, seed"),
    ("steps=ten", "steps: expected int, got 'ten'"),
    ("reference=maybe", "reference: expected bool"),
    ("blowup_factor=0.5", "blowup_factor must be > 1"),
    ("problem=navier_stokes", "problem: expected a mapping"),
])
def test_simulation_config_rejects_bad_keys_and_types_with_the_dotted_key(tmp_path, override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_simulation_config(_config(tmp_path), [override])
