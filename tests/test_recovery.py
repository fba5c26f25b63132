"""Recovery from interruption and corruption: generation and training killed with
SIGKILL at every stage (subprocesses), then rerun; damaged shards and checkpoints.

Outcomes: a rerun generation gives the byte-identical file; a resumed training run gives
weights ``torch.equal`` to an uninterrupted run, and its metrics hold each epoch once."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from sciml.train import CheckpointError, RunExistsError, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]

# a toy problem and a toy run, shared by this process and the subprocesses it kills
SHARED = textwrap.dedent('''
    import os
    import signal

    import numpy as np
    import torch

    from sciml.data import TensorFieldDataset
    from sciml.problems import Problem
    from sciml.train import Trainer
    from sciml.train.losses import LpLoss

    torch.set_num_threads(1)


    class Toy(Problem):
        name = "toy"

        def sample_inputs(self, n, generator=None):
            return torch.rand(n, 8, generator=generator, dtype=torch.float64)

        def solve(self, inputs):
            return inputs.cumsum(-1)

        def parameters(self):
            return {"size": 8}

        def grid(self):
            return {"x": np.linspace(0, 1, 8)}


    def data():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(40, 1, 8, generator=g)
        return TensorFieldDataset(x, 2 * x + 0.5 * x ** 2, spatial=1)


    def trainer(directory, **kw):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv1d(1, 8, 1), torch.nn.Tanh(), torch.nn.Dropout(0.1),
                                    torch.nn.Conv1d(8, 1, 1))
        opts = dict(optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), max_epochs=4, batch_size=8, seed=1,
                    checkpoint_dir=directory, progress=False, save_every_steps=3)
        opts.update(kw)
        return Trainer(model, LpLoss(reduction="mean"), **opts)


    def kill_on_call(owner, name, when):
        """Replace owner.name by a wrapper that SIGKILLs this process on its call number `when`
        (a predicate on the call's arguments may restrict which calls count)."""
        original, calls = getattr(owner, name), [0]

        def wrapper(*args, **kwargs):
            calls[0] += 1
            if calls[0] == when:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)
''')

CHILD = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    from recovery_shared import *
    import h5py, os
    stage, out = sys.argv[2], sys.argv[3]
    if stage == "reference":
        t = trainer(out, save_every_steps=None)
        t.fit(data())
        torch.save({k: v for k, v in t.model.state_dict().items()}, os.path.join(out, "weights.pt"))
        sys.exit(0)
    if stage.startswith("gen-"):
        if stage == "gen-solve":        # while chunk 3 is being solved
            kill_on_call(Toy, "solve", 3)
        elif stage == "gen-shard":      # shard 2 written to its temporary, not yet renamed
            kill_on_call(os, "fsync", 2)
        elif stage == "gen-assembly":   # half of the HDF5 file written
            kill_on_call(h5py.Group, "create_dataset", 2)
        elif stage == "gen-rename":     # the HDF5 file complete under its temporary name
            import pathlib
            kill_on_call(pathlib.Path, "replace", 4)  # 3 shards, then the file
        Toy().generate(10, out, seed=2, chunk_size=4, progress=False)
        sys.exit(0)
    import sciml.train.trainer as trainer_module
    if stage == "train-mid-epoch":     # inside step 8 (epoch 2), after the checkpoint of step 6
        t = trainer(out)
        calls = [0]
        def hook(module, args):
            calls[0] += 1
            if calls[0] == 8:
                os.kill(os.getpid(), signal.SIGKILL)
        t.model.register_forward_pre_hook(hook)
    elif stage == "train-mid-write":   # the 4th checkpoint written to its temporary, not renamed
        t = trainer(out)
        kill_on_call(os, "fsync", 4)
    elif stage == "train-after-metrics":  # epoch 2's metrics row written, its checkpoint not
        t = trainer(out, save_every_steps=None)
        kill_on_call(trainer_module, "save_checkpoint", 2)
    t.fit(data())
    sys.exit(0)
''')


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shared")
    (folder / "recovery_shared.py").write_text(SHARED)
    (folder / "child.py").write_text(CHILD)
    sys.path.insert(0, str(folder))
    threads = torch.get_num_threads()
    yield folder  # importing recovery_shared sets one thread (as in the subprocesses)
    torch.set_num_threads(threads)
    sys.path.remove(str(folder))


def _spawn(shared, stage, out):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("WORLD_SIZE", None)
    return subprocess.Popen([sys.executable, str(shared / "child.py"), str(shared), stage, str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(process, killed=True):
    _, err = process.communicate(timeout=120)
    expected = -signal.SIGKILL if killed else 0
    assert process.returncode == expected, err[-2000:]


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def killed_runs(shared, tmp_path_factory):
    """Every kill case and the reference training run, run as parallel subprocesses."""
    root = tmp_path_factory.mktemp("killed")
    stages = ["gen-solve", "gen-shard", "gen-assembly", "gen-rename", "train-mid-epoch", "train-mid-write",
              "train-after-metrics"]
    outs = {s: root / s / ("data.h5" if s.startswith("gen") else "") for s in stages}
    outs["reference"] = root / "reference"
    for out in outs.values():
        (out.parent if out.suffix else out).mkdir(parents=True, exist_ok=True)
    pending = list(outs)
    running = []
    while pending or running:  # two at a time: the machine may have two cores
        while pending and len(running) < 2:
            stage = pending.pop(0)
            running.append((stage, _spawn(shared, stage, outs[stage])))
        stage, process = running.pop(0)
        _wait(process, killed=stage != "reference")
    return outs


@pytest.mark.parametrize("stage", ["gen-solve", "gen-shard", "gen-assembly", "gen-rename"])
def test_generation_killed_at_any_stage_reruns_to_the_identical_file(shared, killed_runs, tmp_path, stage):
    from recovery_shared import Toy

    reference = Toy().generate(10, tmp_path / "data.h5", seed=2, chunk_size=4, progress=False)
    out = killed_runs[stage]
    assert not out.exists()
    start = time.perf_counter()
    Toy().generate(10, out, seed=2, chunk_size=4, progress=False)
    assert time.perf_counter() - start < 10
    assert _sha(out) == _sha(reference)
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # shards and temporaries removed


def _rows(directory):
    return [json.loads(line) for line in open(directory / "metrics.jsonl")]


@pytest.mark.parametrize("stage", ["train-mid-epoch", "train-mid-write", "train-after-metrics"])
def test_training_killed_resumes_to_the_identical_weights(shared, killed_runs, stage):
    from recovery_shared import data, trainer

    run = killed_runs[stage]
    assert (run / "latest.pt").is_file()
    with pytest.raises(RunExistsError, match="resume='auto'.*fresh=True"):
        trainer(run).fit(data())  # resume=None into an old run: refuses to mix
    resumed = trainer(run, save_every_steps=None if stage == "train-after-metrics" else 3)
    resumed.fit(data(), resume="auto")
    reference = torch.load(killed_runs["reference"] / "weights.pt", weights_only=True)
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, reference[name]), (stage, name)
    assert [row["epoch"] for row in _rows(run)] == [1, 2, 3, 4]  # no duplicated row
    assert (run / "metrics.csv").read_text().count("\n") == 5


def _flip(path, position):
    data = bytearray(path.read_bytes())
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_shards_are_named_and_recomputed(shared, tmp_path):
    from recovery_shared import Toy

    reference = Toy().generate(10, tmp_path / "ref.h5", seed=2, chunk_size=4, progress=False)
    target = tmp_path / "data.h5"
    for damage in ("flip", "truncate", "empty"):
        original = Toy.solve
        calls = []

        def dies(self, inputs):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return original(self, inputs)

        Toy.solve = dies
        try:
            with pytest.raises(KeyboardInterrupt):
                Toy().generate(10, target, seed=2, chunk_size=4, progress=False)
        finally:
            Toy.solve = original
        (shards,) = tmp_path.glob(".data.h5.*.shards")
        shard = sorted(shards.glob("000001.*.npz"))[0]
        if damage == "flip":
            _flip(shard, len(shard.read_bytes()) // 2)
        elif damage == "truncate":
            shard.write_bytes(shard.read_bytes()[:100])
        else:
            shard.write_bytes(b"")
        with pytest.warns(RuntimeWarning, match=r"000001\.[0-9a-f]+\.npz is damaged"):
            Toy().generate(10, target, seed=2, chunk_size=4, progress=False)
        assert _sha(target) == _sha(reference), damage
        target.unlink()


def test_stale_shards_of_other_arguments_are_ignored_and_cleaned(shared, tmp_path):
    from recovery_shared import Toy

    original = Toy.solve

    def dies(self, inputs):
        raise KeyboardInterrupt

    Toy.solve = dies
    try:
        with pytest.raises(KeyboardInterrupt):
            Toy().generate(10, tmp_path / "data.h5", seed=7, chunk_size=4, progress=False)
    finally:
        Toy.solve = original
    stale = tmp_path / ".data.h5.0123456789abcdef.shards"
    stale.mkdir()
    (stale / "000000.0123456789abcdef0123456789abcdef.npz").write_bytes(b"not a shard")
    (tmp_path / ".data.h5.0123456789abcdef.tmp").write_bytes(b"half an hdf5 file")
    out = Toy().generate(10, tmp_path / "data.h5", seed=2, chunk_size=4, progress=False)
    reference = Toy().generate(10, tmp_path / "ref.h5", seed=2, chunk_size=4, progress=False)
    assert _sha(out) == _sha(reference)
    assert not any(p.name.startswith(".data.h5") for p in tmp_path.iterdir())


def _small_run(directory, **kw):
    from recovery_shared import trainer

    return trainer(directory, save_every_steps=None, **kw)


def test_a_flipped_byte_in_a_checkpoint_is_caught_never_loaded(shared, tmp_path):
    """Each of a spread of single-byte flips either fails as CheckpointError naming the
    file or leaves the content identical (bytes the content does not depend on)."""
    from recovery_shared import data

    _small_run(tmp_path, max_epochs=1).fit(data())
    path = tmp_path / "latest.pt"
    clean = path.read_bytes()
    original = load_checkpoint(path)
    caught, positions = 0, range(0, len(clean), max(1, len(clean) // 150))
    start = time.perf_counter()
    for position in positions:
        path.write_bytes(clean)
        _flip(path, position)
        try:
            state = load_checkpoint(path)
        except CheckpointError as err:
            assert str(path) in str(err)
            caught += 1
            continue
        assert state["model"].keys() == original["model"].keys()
        for key, value in state["model"].items():
            assert torch.equal(value, original["model"][key]), position
        assert state["history"] == original["history"] and state["epoch"] == original["epoch"]
    assert caught > 0.5 * len(positions)
    assert time.perf_counter() - start < 20


def test_corrupt_latest_falls_back_to_the_previous_checkpoint(shared, killed_runs, tmp_path):
    from recovery_shared import data

    _small_run(tmp_path, max_epochs=3).fit(data())
    latest = tmp_path / "latest.pt"
    assert (tmp_path / "latest.prev.pt").is_file()
    size = len(latest.read_bytes())
    _flip(latest, size - size // 3)
    with pytest.raises(CheckpointError, match="latest.pt"):
        load_checkpoint(latest)
    resumed = _small_run(tmp_path, max_epochs=4)
    with pytest.warns(RuntimeWarning, match=r"latest\.pt.*Resuming from .*(latest\.prev|best)\.pt"):
        resumed.fit(data(), resume="auto")
    assert resumed.epoch == 4 and [row["epoch"] for row in _rows(tmp_path)] == [1, 2, 3, 4]
    reference = torch.load(killed_runs["reference"] / "weights.pt", weights_only=True)
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, reference[name]), name
    # every checkpoint damaged: an error naming each and the way out
    for name in ("latest.pt", "latest.prev.pt"):
        (tmp_path / name).write_bytes(b"\0" * 64)
    with pytest.raises(CheckpointError, match=r"no checkpoint of .* can be read.*fresh=True"):
        _small_run(tmp_path, max_epochs=5).fit(data(), resume="auto")


def test_fresh_starts_a_clean_run_directory(shared, tmp_path):
    from recovery_shared import data

    _small_run(tmp_path, max_epochs=2).fit(data())
    (tmp_path / "best.pt").write_bytes(b"old")
    again = _small_run(tmp_path, max_epochs=1)
    again.fit(data(), fresh=True)
    assert [row["epoch"] for row in _rows(tmp_path)] == [1] and not (tmp_path / "best.pt").exists()
    assert load_checkpoint(tmp_path / "latest.pt")["epoch"] == 1
    with pytest.raises(ValueError, match="fresh=True starts a new run"):
        _small_run(tmp_path).fit(data(), resume="auto", fresh=True)
