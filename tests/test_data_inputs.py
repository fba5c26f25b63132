"""Bad inputs of generation, datasets, normalisers and the Trainer: each one an error of
the documented type whose message names the argument (and the fix), at once."""

import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from problems import Darcy
from sciml.data import (FieldDataset, GaussianNormalizer, NormalizedModel, TensorFieldDataset, load_pt_dataset,
                        random_split, subsample, write_fields)
from sciml.train import Trainer
from sciml.train.losses import LpLoss


def _model():
    return torch.nn.Conv1d(1, 1, 1)


def _data(n=8):
    x = torch.randn(n, 1, 8)
    return TensorFieldDataset(x, 2 * x, spatial=1)


TRAINER_CASES = [
    (dict(grad_clip=0.0), ValueError, "grad_clip must be > 0"),
    (dict(grad_clip=-1.0), ValueError, "grad_clip must be > 0"),
    (dict(grad_clip=float("nan")), ValueError, "grad_clip must be finite"),
    (dict(early_stopping=0), ValueError, "early_stopping must be a positive int"),
    (dict(early_stopping=-2), ValueError, "early_stopping must be a positive int"),
    (dict(early_stopping=1.5), TypeError, "early_stopping must be a positive int"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive int"),
    (dict(batch_size=4.0), TypeError, "batch_size must be a positive int"),
    (dict(max_epochs=0), ValueError, "max_epochs must be a positive int"),
    (dict(seed=1.7), TypeError, "seed must be a non-negative int"),
    (dict(save_every=0), ValueError, "save_every must be a positive int"),
    (dict(save_every_steps=0), ValueError, "save_every_steps must be a positive int"),
    (dict(eval_batch_size=0), ValueError, "eval_batch_size must be a positive int"),
    (dict(num_workers=-1), ValueError, "num_workers must be a non-negative int"),
    (dict(progress="no"), TypeError, "progress must be True or False"),
    (dict(shuffle=1), TypeError, "shuffle must be True or False"),
    (dict(mixed_precision="yes"), TypeError, "mixed_precision must be True or False"),
    (dict(optimizer=lambda p: torch.optim.SGD(p, lr=float("nan"))), ValueError, "learning rate must be finite"),
    (dict(optimizer=lambda p: torch.optim.Adam(p, lr=float("inf"))), ValueError, "learning rate must be finite"),
    (dict(optimizer=lambda p: None), TypeError, "optimizer must be a factory"),
    (dict(optimizer="adam"), TypeError, "optimizer must be callable"),
    (dict(scheduler_interval="batch"), ValueError, "scheduler_interval"),
    (dict(mode="up"), ValueError, "mode"),
]


@pytest.mark.parametrize("options, error, fragment", TRAINER_CASES)
def test_trainer_rejects_bad_arguments_at_construction(options, error, fragment):
    start = time.perf_counter()
    with pytest.raises(error, match=fragment):
        Trainer(_model(), LpLoss(), progress=options.pop("progress", False), **options)
    assert time.perf_counter() - start < 2


def test_trainer_rejects_bad_models_losses_and_fit_arguments(tmp_path):
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        Trainer(lambda x: x, LpLoss())
    with pytest.raises(ValueError, match="has no parameters"):
        Trainer(torch.nn.ReLU(), LpLoss())
    with pytest.raises(TypeError, match="loss must be callable"):
        Trainer(_model(), "l2")
    trainer = Trainer(_model(), LpLoss(), progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="train_set is empty"):
        trainer.fit(_data(0))
    assert not (tmp_path / "metrics.jsonl").exists()  # nothing logged for an empty set
    with pytest.raises(TypeError, match="fresh must be True or False"):
        trainer.fit(_data(), fresh="yes")
    with pytest.raises(TypeError, match="resume must be 'auto', a checkpoint path or None"):
        trainer.fit(_data(), resume=3)


DATASET_CASES = [
    (lambda: TensorFieldDataset([1.0, 2.0], torch.ones(2)), TypeError, "x must be a tensor"),
    (lambda: TensorFieldDataset(torch.ones(3, 4), torch.ones(2, 4)), ValueError, "same number of samples"),
    (lambda: TensorFieldDataset(torch.ones(3, 4), torch.ones(3, 4), spatial=-1), ValueError,
     "spatial must be a non-negative int"),
    (lambda: TensorFieldDataset(torch.ones(3, 4), torch.ones(3, 4), spatial=1.0), TypeError, "spatial must be"),
    (lambda: TensorFieldDataset(torch.ones(3, 2, 4, 4), torch.ones(3, 2, 4, 4)), ValueError,
     "cannot tell the channel axis from space"),
    (lambda: TensorFieldDataset(torch.ones(3, 4), torch.ones(3, 2, 2, 4), spatial=1), ValueError,
     r"y must be \(n, \*space\) or \(n, channels, \*space\) with 1 space axes"),
    (lambda: TensorFieldDataset(torch.ones(3, 4), torch.ones(3, 4), channel_axis="no"), TypeError,
     "channel_axis must be True or False"),
]


@pytest.mark.parametrize("build, error, fragment", DATASET_CASES)
def test_tensor_dataset_rejects_bad_inputs(build, error, fragment):
    with pytest.raises(error, match=fragment):
        build()


@pytest.mark.parametrize("shape, spatial, item", [
    ((5, 1, 6, 6), None, (1, 6, 6)),   # an existing channel axis is not space
    ((5, 6, 6), None, (1, 6, 6)),      # 2-D fields gain one
    ((5, 1, 6), None, (1, 6)),
    ((5, 6), None, (1, 6)),
    ((5, 3, 6), 1, (3, 6)),            # channels, given explicitly
    ((5, 2, 6, 6), 2, (2, 6, 6)),
    ((5, 4, 4, 4), 3, (1, 4, 4, 4)),   # 3-D fields
])
def test_tensor_dataset_channel_rule(shape, spatial, item):
    data = TensorFieldDataset(torch.ones(shape), torch.ones(shape), spatial=spatial)
    assert data[0]["x"].shape == item and data[0]["y"].shape == item


@pytest.fixture(scope="module")
def darcy_file(tmp_path_factory):
    return Darcy(resolution=9).generate(3, tmp_path_factory.mktemp("d") / "darcy.h5", progress=False)


def test_field_dataset_closes_and_is_a_context_manager(darcy_file):
    with FieldDataset(darcy_file) as data:
        assert data[0]["x"].shape == (1, 9, 9) and data._file is not None
    assert data._file is None
    data.close()  # twice is fine
    assert data[1]["x"].shape == (1, 9, 9)  # reopens on use
    data.close()


FIELD_CASES = [
    (dict(subsample=0), ValueError, "subsample factor"),
    (dict(subsample=1.5), TypeError, "subsample factor"),
    (dict(indices=[0, 5]), IndexError, r"indices must lie in \[0, 3\)"),
    (dict(indices=[0.5]), TypeError, "indices must be ints"),
    (dict(spatial=0), ValueError, "spatial must be a positive int"),
    (dict(in_memory="yes"), TypeError, "in_memory must be True or False"),
    (dict(step_lag=1), ValueError, "step_lag"),
    (dict(input_key="u"), KeyError, "has no dataset 'u'"),
]


@pytest.mark.parametrize("options, error, fragment", FIELD_CASES)
def test_field_dataset_rejects_bad_inputs(darcy_file, options, error, fragment):
    with pytest.raises(error, match=fragment):
        FieldDataset(darcy_file, **options)


def test_field_dataset_rejects_files_that_are_not_hdf5(tmp_path):
    bad = tmp_path / "text.h5"
    bad.write_text("not hdf5")
    with pytest.raises(OSError, match=r"text.h5 is not a readable HDF5 file"):
        FieldDataset(bad)


NORMALIZER_CASES = [
    (lambda: GaussianNormalizer(eps=-1.0), ValueError, "eps must be >= 0"),
    (lambda: GaussianNormalizer(eps=float("nan")), ValueError, "eps must be finite"),
    (lambda: GaussianNormalizer(pointwise="yes"), TypeError, "pointwise must be True or False"),
    (lambda: GaussianNormalizer().fit(torch.ones(4, 8)), ValueError, r"expected fields \(batch, channels, \*space\)"),
    (lambda: GaussianNormalizer().fit([]), ValueError, "fit needs at least one sample"),
    (lambda: GaussianNormalizer().fit(torch.ones(0, 1, 4)), ValueError, "fit needs at least one sample"),
    (lambda: GaussianNormalizer().fit(torch.tensor([[[1.0, float("nan")]]])), ValueError, "NaN or Inf"),
    (lambda: GaussianNormalizer().fit(torch.ones(2, 1, 4, dtype=torch.int64)), TypeError, "floating-point"),
    (lambda: GaussianNormalizer(pointwise=False).fit([torch.ones(2, 1, 4), torch.ones(2, 2, 4)]), ValueError,
     "every batch must have"),
]


@pytest.mark.parametrize("build, error, fragment", NORMALIZER_CASES)
def test_normalizer_rejects_bad_inputs(build, error, fragment):
    with pytest.raises(error, match=fragment):
        build()


GENERATE_CASES = [
    (dict(n=3, seed=1.7), TypeError, "seed must be a non-negative int"),
    (dict(n=3, seed=-1), ValueError, "seed must be a non-negative int"),
    (dict(n=3.0), TypeError, "n must be a positive int"),
    (dict(n=0), ValueError, "n must be a positive int"),
    (dict(n=3, chunk_size=0), ValueError, "chunk_size must be a positive int"),
    (dict(n=3, progress="no"), TypeError, "progress must be True or False"),
]


@pytest.mark.parametrize("options, error, fragment", GENERATE_CASES)
def test_generate_rejects_coerced_arguments(tmp_path, options, error, fragment):
    with pytest.raises(error, match=fragment):
        Darcy(resolution=9).generate(path=tmp_path / "x.h5", **options)
    assert not any(tmp_path.iterdir())  # nothing written


def test_generate_rejects_a_bad_path():
    with pytest.raises(TypeError, match="path must be a file name"):
        Darcy(resolution=9).generate(3, 5)


@settings(max_examples=30, deadline=2000)
@given(n=st.integers(1, 3), channels=st.integers(1, 3), space=st.lists(st.integers(1, 4), min_size=0, max_size=3))
def test_tensor_dataset_items_are_channels_first_for_any_shape(n, channels, space):
    """With ``spatial`` given, a field gains exactly one channel axis and a field with
    channels keeps its own; the result is ``(channels, *space)`` either way."""
    fields, with_channels = torch.ones(n, *space), torch.ones(n, channels, *space)
    assert TensorFieldDataset(fields, fields, spatial=len(space))[0]["x"].shape == (1, *space)
    assert TensorFieldDataset(with_channels, with_channels, spatial=len(space))[0]["y"].shape == (channels, *space)


def _h5(path, grid=True, outputs=None):
    x = torch.randn(4, 9, 9)
    nodes = torch.linspace(0, 1, 9).numpy()
    return write_fields(path, x, 2 * x if outputs is None else outputs, grid={"x": nodes, "y": nodes} if grid else None)


DATA_API_CASES = [
    (lambda p: TensorFieldDataset(torch.full((4, 8, 8), float("nan")), torch.ones(4, 8, 8)), ValueError,
     "x contains NaN or Inf"),
    (lambda p: TensorFieldDataset(torch.ones(4, 8, 8), torch.full((4, 8, 8), float("inf"))), ValueError,
     "y contains NaN or Inf"),
    (lambda p: FieldDataset(_h5(p / "d.h5"), time_index=50), ValueError, "time_index picks frames"),
    (lambda p: FieldDataset(_h5(p / "d.h5", outputs=torch.ones(4, 3, 9, 9)), time_index=5), ValueError,
     r"time_index must be an int in \[-3, 2\]"),
    (lambda p: FieldDataset(_h5(p / "d.h5", outputs=torch.ones(4, 3, 9, 9)), time_index="last"), TypeError,
     "time_index must be an int or a non-empty list"),
    (lambda p: FieldDataset(_h5(p / "d.h5"), spatial=4), ValueError, "spatial=4 exceeds the axes"),
    (lambda p: FieldDataset(_h5(p / "d.h5", grid=False)), ValueError, "no grid coordinates.*pass spatial="),
    (lambda p: write_fields(p / "w.h5", "data", torch.ones(4, 8)), TypeError,
     "inputs must be a tensor"),
    (lambda p: write_fields(p / "w.h5", torch.full((4, 8), float("nan")),
                                                          torch.ones(4, 8)), ValueError, "inputs contains NaN"),
    (lambda p: write_fields(p / "w.h5", torch.ones(4, 8), torch.ones(4, 8), grid=[1]),
     TypeError, "grid must be a dict"),
    (lambda p: ((p / "t.pt").write_text("x"), load_pt_dataset(p / "t.pt"))[1],
     ValueError, "t.pt is not a torch file"),
    (lambda p: random_split(_data(8), [4, 4], seed=1.5), TypeError,
     "seed must be a non-negative int"),
    (lambda p: random_split(_data(8), [10, -2]), ValueError,
     r"lengths\[1\] must be a non-negative int"),
    (lambda p: random_split(_data(8), [0.5, 2.5, -2.0]), ValueError,
     r"lengths\[1\] must lie in \[0, 1\]"),
    (lambda p: random_split(_data(8), 4), TypeError, "lengths must be a non-empty list"),
    (lambda p: subsample(torch.ones(4, 8, 8), 2, 5), ValueError,
     r"n_spatial must be an int in \[0, 3\]"),
    (lambda p: subsample([1.0, 2.0], 2, 1), TypeError, "field must be a tensor"),
    (lambda p: NormalizedModel(lambda z: z), TypeError,
     "model must be a torch.nn.Module"),
    (lambda p: NormalizedModel(_model(), input_normalizer=3), TypeError,
     "input_normalizer must be a GaussianNormalizer or None"),
]


@pytest.mark.parametrize("call, error, fragment", DATA_API_CASES)
def test_data_api_rejects_bad_inputs_at_once(tmp_path, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(tmp_path)
