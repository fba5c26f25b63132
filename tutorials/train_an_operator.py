"""Tutorial: train a neural operator on Navier–Stokes data with the Python API.

1. Generate vorticity trajectories with ``problems.NavierStokes`` (FNO forcing,
   nu = 1e-3, 32x32 here for speed) into HDF5.
2. Read them with ``sciml.data.FieldDataset``: the first frame is the input, the last
   frame the target (``time_index``).
3. Wrap neuraloperator's FNO with a Gaussian normaliser that lives in its state dict.
4. Train with ``sciml.train.Trainer`` (relative H1 loss, spectral gradients on the
   periodic fields), stop halfway, and resume from the checkpoint: the final weights
   equal those of an uninterrupted run.
5. Evaluate and plot input, truth, prediction and error.

Run ``python tutorials/train_an_operator.py [--quick] [--out DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import torch

from problems import NavierStokes
from sciml.data import FieldDataset, GaussianNormalizer, NormalizedModel
from sciml.operators import build_model
from sciml.train import H1Loss, LpLoss, Trainer

from _setup import tutorial_setup

args, out = tutorial_setup(__doc__, "train_an_operator", out_help="folder for data and figures")

# %% [markdown]
# ## 1. Data: w(t = 0) -> w(t = 1) on the torus

# %%
problem = NavierStokes(resolution=32, viscosity=1e-3, t_end=1.0, n_times=2, dt=2e-3)
n_train, n_test = (48, 16) if args.quick else (400, 50)
path = problem.generate(n_train + n_test, out / "ns32.h5", seed=0, chunk_size=32)
train = FieldDataset(path, indices=range(n_train), time_index=[-1], in_memory=True)
test = FieldDataset(path, indices=range(n_train, n_train + n_test), time_index=[-1], in_memory=True)
print(f"{len(train)} training and {len(test)} test pairs, fields {tuple(train[0]['x'].shape)}")

# %% [markdown]
# ## 2. Model: FNO with normalised inputs (the statistics travel with the weights)

# %%
x_train = torch.stack([train[i]["x"] for i in range(len(train))])


def make_model():
    torch.manual_seed(0)
    fno = build_model({"name": "fno", "n_modes": [12, 12], "hidden_channels": 24})
    return NormalizedModel(fno, GaussianNormalizer(pointwise=False).fit(x_train))


def make_trainer(model, epochs, directory):
    return Trainer(model, H1Loss(reduction="mean"), optimizer=lambda p: torch.optim.AdamW(p, lr=3e-3),
                   scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs_total),
                   max_epochs=epochs, batch_size=8, eval_sets={"test": test}, metrics={"l2": LpLoss()},
                   monitor="test/l2", checkpoint_dir=directory, progress=False)


# %% [markdown]
# ## 3. Train, interrupt halfway, resume: the same weights as one uninterrupted run

# %%
epochs_total = 4 if args.quick else 30
reference = make_model()
make_trainer(reference, epochs_total, out / "uninterrupted").fit(train, fresh=True)  # fresh: rerunnable

first_half = make_model()
make_trainer(first_half, epochs_total // 2, out / "resumed").fit(train, fresh=True)
resumed = make_model()
history = make_trainer(resumed, epochs_total, out / "resumed").fit(train, resume="auto")
same = all(torch.equal(a, b) for a, b in zip(reference.parameters(), resumed.parameters()))
print(f"resumed run identical to the uninterrupted one: {same}")
assert same
shown = history[:: max(1, len(history) // 5)]
for row in shown + ([history[-1]] if history[-1] is not shown[-1] else []):
    print(f"epoch {row['epoch']:3d}  train H1 {row['train/loss']:.4f}  test L2 {row['test/l2']:.4f}")

# %% [markdown]
# ## 4. Look at one test sample

# %%
item = test[0]
with torch.no_grad():
    pred = resumed.eval()(item["x"][None])[0, 0]
panels = [("w(0)", item["x"][0]), ("w(1), solver", item["y"][0]), ("w(1), FNO", pred), ("error", pred - item["y"][0])]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for ax, (title, field) in zip(axes, panels):
    im = ax.imshow(field.T.numpy(), origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.tight_layout()
fig.savefig(out / "ns_prediction.png", dpi=110)
print(f"test relative L2 {history[-1]['test/l2']:.4f}; figure: {out / 'ns_prediction.png'}")
