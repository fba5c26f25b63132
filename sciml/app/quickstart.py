"""``sciml quickstart``: generate Darcy data, train MgNO and FNO, compare them at the
training resolution and zero-shot at a finer one.

1. Data: the FNO Darcy problem (``problems.Darcy``: 12/3 thresholded Gaussian random
   permeability, ``-div(a grad u) = 1``) solved by the built-in multigrid at 33^2 for
   training and testing, and at 65^2 for a zero-shot test, written to HDF5 by
   ``Problem.generate`` (resumable).
2. Models: sciml's MgNO (a multigrid V-cycle per layer) and neuraloperator's FNO, with
   scalar Gaussian normalisation of inputs and outputs carried in their state.
3. Training: the package's Trainer from run configurations, as ``sciml train`` would
   do, with a relative H1 loss (finite differences, one-sided on the boundary), the
   same data, epochs and batch size for both.
4. Evaluation: relative L2 and H1 at 33^2 and zero-shot at 65^2, a table and a figure
   (input, truth, both predictions and errors at 33^2).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from problems import Darcy

from .run_config import load_config
from .training import build_run

__all__ = ["MODELS", "run_quickstart"]

MODELS = {
    "MgNO": {"model": {"name": "mgno", "channels": 24, "n_layers": 4, "num_iteration": [[1, 0]] * 4 + [[2, 0]]},
             "optimizer": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4},
             "scheduler": {"name": "onecycle", "pct_start": 0.2, "div_factor": 2.0, "final_div_factor": 100.0,
                           "interval": "step"}},
    "FNO": {"model": {"name": "fno", "n_modes": [12, 12], "hidden_channels": 32},
            "optimizer": {"name": "adamw", "lr": 5e-3, "weight_decay": 1e-4}, "scheduler": {"name": "cosine"}},
}


def run_quickstart(quick: bool = False, out_dir: str | Path = "outputs/quickstart", seed: int = 0,
                   threads: int | None = None) -> dict:
    """Run the quickstart (``seed`` seeds the data and every model's run); returns
    ``{model: {"metrics", "parameters", "train_seconds"}}`` plus the data time and the
    figure path, and writes ``quickstart.png`` (and the data and checkpoints) under
    ``out_dir``."""
    out = Path(out_dir)
    if threads:
        torch.set_num_threads(threads)
    n_train, n_test, epochs = (160, 32, 5) if quick else (400, 100, 20)
    start = time.perf_counter()
    files = {}
    for name, (s, n, data_seed) in {"train": (33, n_train, seed), "test33": (33, n_test, seed + 1),
                                    "test65": (65, n_test, seed + 2)}.items():
        files[name] = Darcy(resolution=s).generate(n, out / "data" / f"darcy_{name}_{n}.h5", seed=data_seed,
                                                   chunk_size=64, progress=False)
    result = {"data_seconds": time.perf_counter() - start, "epochs": epochs, "n_train": n_train, "models": {}}
    trained = {}
    for name, spec in MODELS.items():
        cfg = load_config(None, base={
            "seed": seed, "out_dir": str(out / name.lower()),
            "data": {"format": "h5", "train": str(files["train"]),
                     "test": {"33": str(files["test33"]), "65 (zero-shot)": str(files["test65"])},
                     "normalize_inputs": "scalar", "normalize_outputs": "scalar"},
            **spec, "loss": {"name": "h1", "args": {"periodic": False, "method": "fd"}}, "metrics": ["l2", "h1"],
            "trainer": {"max_epochs": epochs, "batch_size": 20, "progress": False, "monitor": "33/l2"}})
        trainer, train_set = build_run(cfg)  # seeds the model's initialisation with cfg.seed
        start = time.perf_counter()
        history = trainer.fit(train_set, fresh=True)
        seconds = time.perf_counter() - start
        print(f"  {name}: {len(history)} epochs in {seconds:.0f} s, final test L2 {history[-1]['33/l2']:.4f}")
        trained[name] = trainer
        result["models"][name] = {"metrics": trainer.evaluate(), "train_seconds": seconds,
                                  "parameters": sum(p.numel() for p in trainer.model.parameters())}
    result["figure"] = str(_plot(trained, out))
    return result


@torch.no_grad()
def _plot(trained: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(trained.values()))
    item = first.eval_sets["33"][0]
    truth = item["y"][0]
    panels = [("permeability a", item["x"][0], "viridis"), ("solution u (multigrid)", truth, "viridis")]
    for name, trainer in trained.items():
        trainer.model.eval()
        panels.append((f"{name} error", trainer.model(item["x"][None])[0, 0] - truth, "RdBu_r"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.2))
    for ax, (title, field, cmap) in zip(axes, panels):
        style = {"cmap": cmap}
        if cmap == "RdBu_r":
            limit = float(field.abs().max())
            style.update(vmin=-limit, vmax=limit)
        im = ax.imshow(field.numpy(), origin="lower", extent=(0, 1, 0, 1), **style)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Darcy flow, 33x33 test sample")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "quickstart.png"
    tmp = path.with_name(".quickstart.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
