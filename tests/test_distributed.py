"""Data-parallel training under torchrun (gloo, CPU) equals one process with the same
global batch."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.distributed as dist

SCRIPT = textwrap.dedent('''
    import sys
    import torch
    from sciml.data import TensorFieldDataset
    from sciml.train import LpLoss, Trainer

    torch.set_num_threads(1)
    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 1, 8, generator=g)
    data = TensorFieldDataset(x, torch.sin(2 * x), spatial=1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 16, 1), torch.nn.Tanh(), torch.nn.Conv1d(16, 1, 1))
    trainer = Trainer(model, LpLoss(reduction="sum"), optimizer=lambda p: torch.optim.SGD(p, lr=1e-2),
                      max_epochs=3, batch_size=8, seed=3, eval_sets={"val": data}, monitor="val/loss",
                      checkpoint_dir=out, progress=False)
    trainer.fit(data)
    if trainer.rank == 0:
        torch.save(model.state_dict(), out + "/weights.pt")
''')


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_two_processes_equal_one(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    one, two = tmp_path / "one", tmp_path / "two"
    run = subprocess.run([sys.executable, str(script), str(one)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(two)], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = torch.load(one / "weights.pt", weights_only=True), torch.load(two / "weights.pt", weights_only=True)
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff < 1e-6, diff  # float32 round-off: the half-batch gradients are summed in another order
    rows_one = [json.loads(line) for line in open(one / "metrics.jsonl")]
    rows_two = [json.loads(line) for line in open(two / "metrics.jsonl")]
    assert len(rows_two) == 3  # rank 0 alone logs
    for r1, r2 in zip(rows_one, rows_two):  # losses and metrics reduced over ranks
        assert abs(r1["train/loss"] - r2["train/loss"]) < 1e-5 and abs(r1["val/loss"] - r2["val/loss"]) < 1e-5
