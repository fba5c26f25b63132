"""Every user error of the `sciml` command: exit code 2, one line on stderr naming the flag
or the dotted config key and the fix, no traceback, answered in bounded time. Genuine bugs
keep their traceback; `sciml --debug` shows the traceback of user errors too.

The bad inputs are listed per subcommand (command line, then expected fragment of the one
line); the configs are YAML files written to a temporary folder. Almost every case runs
`sciml.cli.main` in-process; two run the installed entry point in a subprocess."""

import contextlib
import dataclasses
import io
import json
import os
import subprocess
import sys
import time

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sciml.cli
from problems import Darcy
from sciml.app import RunConfig, build_run
from sciml.cli import main

SECONDS = 10.0  # every bad input is answered within this bound (the package is imported already)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A folder with an 8-sample Darcy set, a text file, a YAML tag file, a folder, a run
    config, a trained (non-stepper) checkpoint and a simulate config."""
    root = tmp_path_factory.mktemp("cli_errors")
    Darcy(resolution=9).generate(8, root / "train.h5", seed=0, progress=False)
    (root / "text.pt").write_text("hello\n")
    (root / "tag.yaml").write_text('seed: !!python/object/apply:os.system ["echo owned"]\n')
    (root / "broken.yaml").write_text("data: [1, 2\n")
    (root / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81")
    (root / "intkey.yaml").write_text("1: 2\n")
    (root / "folder").mkdir()
    run = {"out_dir": str(root / "run"), "seed": 0,
           "data": {"format": "h5", "train": str(root / "train.h5"), "normalize_inputs": "scalar"},
           "model": {"name": "fno", "n_modes": [2, 2], "hidden_channels": 4, "n_layers": 1},
           "trainer": {"max_epochs": 1, "batch_size": 4, "progress": False, "threads": 1}}
    (root / "run.yaml").write_text(yaml.safe_dump(run))
    assert _run(["train", str(root / "run.yaml")])[0] == 0
    sim = {"problem": {"name": "navier_stokes", "resolution": 16, "t_end": 1.0, "n_times": 3, "dt": 1e-2},
           "initial": {"n": 1, "seed": 0}, "steps": 2, "progress": False, "out": str(root / "traj.h5")}
    (root / "sim.yaml").write_text(yaml.safe_dump(sim))
    (root / "heat.yaml").write_text(yaml.safe_dump({**sim, "problem": {"name": "heat"}}))
    (root / "noname.yaml").write_text(yaml.safe_dump({**sim, "problem": {"resolution": 16}}))
    return root


def _run(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` with stderr captured: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _assert_one_line_user_error(argv: list[str], fragment: str) -> None:
    start = time.perf_counter()
    code, err = _run(argv)
    seconds = time.perf_counter() - start
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert fragment in err, err
    assert seconds < SECONDS, (argv, seconds)


def _paths(root, items: list[str]) -> list[str]:
    return [item.replace("ROOT", str(root)) for item in items]


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

TRAIN = [  # overrides of run.yaml -> fragment of the error line
    (["trainer.batch_size=0"], "trainer.batch_size must be a positive int, got 0"),
    (["trainer.batch_size=-3"], "trainer.batch_size must be a positive int"),
    (["trainer.max_epochs=0"], "trainer.max_epochs must be a positive int"),
    (["trainer.eval_batch_size=0"], "trainer.eval_batch_size must be a positive int"),
    (["trainer.save_every=0"], "trainer.save_every must be a positive int"),
    (["trainer.early_stopping=0"], "trainer.early_stopping must be a positive int"),
    (["trainer.threads=0"], "trainer.threads must be a positive int"),
    (["trainer.grad_clip=0"], "trainer.grad_clip must be > 0"),
    (["trainer.grad_clip=-1.0"], "trainer.grad_clip must be > 0"),
    (["trainer.device=foo"], "trainer.device: 'foo' is not a torch device"),
    pytest.param(["trainer.device=cuda"], "torch sees no cuda device", marks=NO_CUDA),
    (["trainer.monitor=foo/l2"], "trainer: monitor 'foo/l2' is not logged"),
    (["trainer.batch_size=ten"], "trainer.batch_size: expected int, got 'ten'"),
    (["data.n_train=0"], "data.n_train must be a positive int, got 0"),
    (["data.n_train=100"], "data.n_train=100, but"),
    (["data.n_test=0"], "data.n_test must be a positive int"),
    (["data.val_fraction=1.5"], "data.val_fraction must lie in [0, 1), got 1.5"),
    (["data.val_fraction=1"], "data.val_fraction must lie in [0, 1)"),
    (["data.val_fraction=-0.5"], "data.val_fraction must lie in [0, 1)"),
    (["data.val_fraction=.nan"], "data.val_fraction must be finite"),
    (["data.val_fraction=0.01"], "data.val_fraction=0.01 of 8 training samples holds out 0"),
    (["data.subsample=0"], "data.subsample must be a positive int, got 0"),
    (["data.step_lag=0"], "data.step_lag must be a positive int"),
    (["data.test_subsample={nope: 2}"], "data.test_subsample names 'nope', which is not a test set"),
    (["data.test={t: ROOT/train.h5}", "data.test_subsample={t: 0}"], "data.test_subsample.t must be a positive int"),
    (["data.train="], "data.train: expected str, got None"),
    (["data.train=''"], "data.train is empty"),
    (["data.train=ROOT/missing.h5"], "data.train: dataset ROOT/missing.h5 does not exist"),
    (["data.train=ROOT/folder"], "data.train: ROOT/folder is a directory"),
    (["data.train=ROOT/text.pt"], "data.train: ROOT/text.pt is not a readable HDF5 file"),
    (["data.format=pt", "data.train=ROOT/text.pt"], "data.train: ROOT/text.pt is not a torch file"),
    (["data.test={t: ROOT/missing.h5}"], "data.test.t: dataset ROOT/missing.h5 does not exist"),
    (["optimizer.lr=-1"], "optimizer.lr must be > 0"),
    (["optimizer.lr=0"], "optimizer.lr must be > 0"),
    (["optimizer.lr=.inf"], "optimizer.lr must be finite"),
    (["optimizer.weight_decay=-1"], "optimizer.weight_decay must be >= 0"),
    (["optimizer.betas=[2]"], "optimizer.betas must hold two numbers"),
    (["optimizer.betas=[0.9, 1.5]"], "optimizer.betas[1] must lie in [0, 1)"),
    (["optimizer.name=adagrad"], "optimizer.name: expected one of 'adam', 'adamw', 'sgd'"),
    (["scheduler.pct_start=0"], "scheduler.pct_start must lie in (0, 1)"),
    (["scheduler.gamma=0"], "scheduler.gamma must be > 0"),
    (["scheduler.T_max=0"], "scheduler.T_max must be a positive int"),
    (["scheduler.step_size=0"], "scheduler.step_size must be a positive int"),
    (["scheduler.name=onecycle"], "the one-cycle schedule needs >= 2 epochs in each phase"),
    (["loss.args={foo: 1}"], "unknown key 'foo' in loss.args"),
    (["loss.name=l3"], "loss.name: expected one of 'l2', 'h1', 'hs'"),
    (["model.foo=1"], "model: model 'fno' does not take 'foo'"),
    (["model.name=nope"], "model: unknown model 'nope'; known: fno"),
    (["metrics=[l3]"], "metrics[0]: expected one of 'l1', 'l2', 'h1'"),
    (["seed=-1"], "seed must be a non-negative int"),
    (["seed=1.5"], "seed: expected int, got 1.5"),
    (["seed=!!python/object/apply:os.system [echo owned]"], "YAML tags (!!python/..., !name) are not allowed"),
    (["seed=[1, 2"], "override 'seed=[1, 2': the value is not valid YAML"),
    (["out_dir=5"], "out_dir: expected str, got 5 (int); quote it"),
    (["out_dir=''"], "out_dir is empty"),
    (["out_dir=ROOT/text.pt"], "out_dir: ROOT/text.pt is a file"),
    (["nonsense=1"], "unknown key 'nonsense'; known: seed, out_dir"),
    (["trainer.max_epoch=3"], "did you mean 'max_epochs'?"),
    (["x"], "override 'x' must look like dotted.key=value"),
]


@pytest.mark.parametrize("overrides, fragment", TRAIN)
def test_train_config_errors(root, overrides, fragment):
    _assert_one_line_user_error(["train", str(root / "run.yaml"), *_paths(root, overrides)],
                                fragment.replace("ROOT", str(root)))


COMMANDS = [  # whole command lines -> fragment of the error line
    (["train", "ROOT/missing.yaml"], "sciml train: config file ROOT/missing.yaml does not exist"),
    (["train", "ROOT/folder"], "config file ROOT/folder is a directory"),
    (["train", "ROOT/tag.yaml"], "YAML tags (!!python/..., !name) are not allowed"),
    (["train", "ROOT/broken.yaml"], "ROOT/broken.yaml is not valid YAML"),
    (["train", "ROOT/binary.yaml"], "config file ROOT/binary.yaml is not a text file"),
    (["train", "ROOT/intkey.yaml"], "unknown key 1; known: seed"),
    (["train", "ROOT/run.yaml", "--nproc", "0"], "argument --nproc: expected a positive int, got '0'"),
    (["train"], "sciml train: error: the following arguments are required: config"),
    (["nonsense"], "sciml: error: argument COMMAND: invalid choice: 'nonsense'"),
    (["data", "generate", "darcy", "--n", "0", "--out", "ROOT/x.h5"], "argument --n: expected a positive int, got '0'"),
    (["data", "generate", "darcy", "--n", "1.5", "--out", "ROOT/x.h5"], "argument --n: expected a positive int"),
    (["data", "generate", "darcy", "--n", "two", "--out", "ROOT/x.h5"], "argument --n: expected a positive int"),
    (["data", "generate", "darcy", "--n", "2"], "the following arguments are required: --out"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/x.h5", "--chunk-size", "0"],
     "argument --chunk-size: expected a positive int, got '0'"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/x.h5", "--resolution", "0"],
     "argument --resolution: expected a positive int, got '0'"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/x.h5", "--resolution", "2"],
     "sciml data generate: resolution 2 does not suit darcy: resolution must be an int >= 3"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/x.h5", "--seed", "-1"],
     "argument --seed: expected a non-negative int, got '-1'"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/x.h5", "--seed", "1.7"],
     "argument --seed: expected a non-negative int, got '1.7'"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/x.h5", "--nproc", "0"],
     "argument --nproc: expected a positive int"),
    (["data", "generate", "nope", "--n", "2", "--out", "ROOT/x.h5"], "invalid choice: 'nope' (choose from"),
    (["data", "generate", "darcy", "--n", "2", "--out", "ROOT/folder", "--no-progress"],
     "out ROOT/folder is a directory"),
    (["data"], "sciml data: error: the following arguments are required: ACTION"),
    (["evaluate", "ROOT/missing.pt"], "sciml evaluate: checkpoint ROOT/missing.pt does not exist"),
    (["evaluate", "ROOT/folder"], "ROOT/folder"),
    (["evaluate", "ROOT/run/latest.pt", "--batch-size", "0"], "argument --batch-size: expected a positive int"),
    (["evaluate", "ROOT/run/latest.pt", "--metrics", "l3"], "argument --metrics: invalid choice: 'l3'"),
    (["evaluate", "ROOT/run/latest.pt"], "no data to evaluate: pass --data NAME=FILE"),
    (["evaluate", "ROOT/run/latest.pt", "--data", "=ROOT/train.h5"], "--data '=ROOT/train.h5': expected NAME=FILE"),
    (["evaluate", "ROOT/run/latest.pt", "--data", "t=ROOT/missing.h5"], "--data t: dataset ROOT/missing.h5 does not"),
    (["quickstart", "--threads", "0"], "argument --threads: expected a positive int, got '0'"),
    (["quickstart", "--seed", "-2"], "argument --seed: expected a non-negative int"),
    (["simulate", "ROOT/sim.yaml", "problem.foo=1"], "unknown key 'foo' in problem; known: resolution"),
    (["simulate", "ROOT/sim.yaml", "problem.resolution=0"], "problem.resolution must be an int >= 4, got 0"),
    (["simulate", "ROOT/sim.yaml", "problem.viscosity=-1"], "problem.viscosity must be >= 0"),
    (["simulate", "ROOT/heat.yaml"], "problem 'heat' is not a time-stepping problem"),
    (["simulate", "ROOT/sim.yaml", "problem.name=heat"], "unknown keys 'dt', 't_end' in problem; known: resolution"),
    (["simulate", "ROOT/sim.yaml", "problem.name=nope"], "problem.name: unknown problem 'nope'; known: advection"),
    (["simulate", "ROOT/noname.yaml"], "problem must be a mapping with a name"),
    (["simulate", "ROOT/sim.yaml", "steps=0"], "steps must be a positive int, got 0"),
    (["simulate", "ROOT/sim.yaml", "save_every=0"], "save_every must be a positive int"),
    (["simulate", "ROOT/sim.yaml", "initial.n=0"], "initial.n must be a positive int"),
    (["simulate", "ROOT/sim.yaml", "initial.seed=-1"], "initial.seed must be a non-negative int"),
    (["simulate", "ROOT/sim.yaml", "blowup_factor=.inf"], "blowup_factor must be finite"),
    (["simulate", "ROOT/sim.yaml", "blowup_factor=1"], "blowup_factor must be > 1"),
    (["simulate", "ROOT/sim.yaml", "stepper.dt=0"], "stepper.dt must be > 0"),
    (["simulate", "ROOT/sim.yaml", "stepper.substeps=0"], "stepper.substeps must be a positive int"),
    (["simulate", "ROOT/sim.yaml", "stepper.kind=model"], "stepper.kind=model needs stepper.checkpoint"),
    (["simulate", "ROOT/sim.yaml", "stepper.kind=model", "stepper.checkpoint=ROOT/missing.pt"],
     "checkpoint ROOT/missing.pt does not exist"),
    (["simulate", "ROOT/sim.yaml", "stepper.kind=model", "stepper.checkpoint=ROOT/run/latest.pt"],
     "records no time step (it was not trained on time pairs, data.step_lag); set stepper.dt in the config"),
    (["simulate", "ROOT/sim.yaml", "out=ROOT/folder"], "out: ROOT/folder is a directory"),
    (["simulate", "ROOT/tag.yaml"], "YAML tags (!!python/..., !name) are not allowed"),
]


@pytest.mark.parametrize("argv, fragment", COMMANDS)
def test_command_line_errors(root, argv, fragment):
    _assert_one_line_user_error(_paths(root, argv), fragment.replace("ROOT", str(root)))


def test_a_text_file_as_checkpoint_is_a_user_error(root):
    for argv in (["evaluate", "ROOT/text.pt"],
                 ["simulate", "ROOT/sim.yaml", "stepper.kind=model", "stepper.checkpoint=ROOT/text.pt"]):
        _assert_one_line_user_error(_paths(root, argv), "ROOT/text.pt".replace("ROOT", str(root)))


def test_the_tag_was_not_run(root, capfd):
    _run(["train", str(root / "tag.yaml")])
    assert "owned" not in capfd.readouterr().out


def test_a_bug_keeps_its_traceback(root, monkeypatch):
    """An exception outside the user errors (here a KeyError) is not turned into exit 2."""
    def broken(cfg, resume):
        raise KeyError("internal")

    monkeypatch.setattr(sciml.cli, "train", broken)
    with pytest.raises(KeyError, match="internal"):
        main(["train", str(root / "run.yaml")])


def test_debug_shows_the_traceback(root):
    with pytest.raises(ValueError, match="trainer.batch_size must be a positive int"):
        main(["--debug", "train", str(root / "run.yaml"), "trainer.batch_size=0"])


def test_help_documents_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--debug" in out and "exit code 2" in out


def test_no_resume_starts_a_clean_run(root):
    """`--no-resume` deletes the old run's checkpoints and metrics instead of appending to them."""
    argv = ["train", str(root / "run.yaml"), f"out_dir={root / 'fresh'}"]
    assert _run([*argv, "trainer.max_epochs=2"])[0] == 0
    assert len((root / "fresh" / "metrics.jsonl").read_text().splitlines()) == 2
    assert _run([*argv, "trainer.max_epochs=1", "--no-resume"])[0] == 0
    assert [json.loads(line)["epoch"] for line in open(root / "fresh" / "metrics.jsonl")] == [1]


def _subprocess(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sciml.cli", *argv], capture_output=True, text=True, timeout=120,
                          env=env)


def test_the_entry_point_exits_2_with_one_line(root):
    result = _subprocess(["train", str(root / "run.yaml"), "data.n_train=0"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "data.n_train must be a positive int" in result.stderr and "Traceback" not in result.stderr


# Random overrides over the typed config tree: every one either builds a run or ends in
# one line with exit code 2. Training itself is replaced by building the run (fast), and
# trainer.threads is left out (it would change this process's torch threads).
def _leaves(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict) and value and key != "model":
            out += _leaves(value, f"{prefix}{key}.")
        elif key != "model":
            out.append(f"{prefix}{key}")
    return out


KEYS = [k for k in _leaves(dataclasses.asdict(RunConfig())) if k not in ("trainer.threads", "out_dir")] + [
    "nonsense", "trainer.nonsense"]
SCALARS = st.one_of(st.integers(-3, 40), st.floats(allow_nan=True, allow_infinity=True, width=32), st.booleans(),
                    st.none(), st.text("abl2h1ptcu:/.-", max_size=6), st.lists(st.integers(-1, 3), max_size=3))


def _value(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[:-3].strip() if text.endswith("...") else text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(SCALARS.map(_value), st.text("[]{}:,'!ab1 ", max_size=5))),
                min_size=1, max_size=3))
def test_random_overrides_build_or_fail_in_one_line(root, monkeypatch, overrides):
    monkeypatch.setattr(sciml.cli, "train", lambda cfg, resume, fresh=False: build_run(cfg) and [])
    monkeypatch.chdir(root)
    argv = ["train", str(root / "run.yaml"), *(f"{key}={value}" for key, value in overrides)]
    start = time.perf_counter()
    code, err = _run(argv)
    assert time.perf_counter() - start < SECONDS, argv
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
