"""sciml.data: HDF5 datasets from problems, neuraloperator's .pt sets, normalisers."""

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from problems import Burgers, Darcy
from sciml.data import (FieldDataset, GaussianNormalizer, NormalizedModel, load_pt_dataset, random_split,
                        subsample)

NEURALOPERATOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "neuraloperator"


@pytest.fixture(scope="module")
def darcy_file(tmp_path_factory):
    return Darcy(resolution=17).generate(6, tmp_path_factory.mktemp("d") / "darcy.h5", seed=0, chunk_size=4,
                                         progress=False)


def test_field_dataset_lazy_equals_in_memory_and_subsamples(darcy_file):
    lazy, eager = FieldDataset(darcy_file), FieldDataset(darcy_file, in_memory=True)
    assert len(lazy) == 6 and lazy.spatial == 2 and lazy.attrs["problem"] == "darcy"
    for i in range(6):
        a, b = lazy[i], eager[i]
        assert a["x"].shape == (1, 17, 17) and a["x"].dtype == torch.float32
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    coarse = FieldDataset(darcy_file, subsample=2, indices=[4, 1])
    assert coarse[0]["x"].shape == (1, 9, 9) and torch.equal(coarse[1]["y"], lazy[1]["y"][:, ::2, ::2])
    assert len(coarse.grid["x"]) == 9 and coarse.grid["x"][-1] == 1.0  # 17 -> 9 keeps both ends
    with pytest.raises(FileNotFoundError, match="sciml data generate"):
        FieldDataset(darcy_file.with_name("missing.h5"))
    with pytest.raises(ValueError, match="subsample factor"):
        FieldDataset(darcy_file, subsample=0)


def test_lazy_dataset_in_worker_processes(darcy_file):
    loader = DataLoader(FieldDataset(darcy_file), batch_size=3, num_workers=2)
    batches = list(loader)
    ref = FieldDataset(darcy_file, in_memory=True)
    assert torch.equal(torch.cat([b["y"] for b in batches]), torch.stack([ref[i]["y"] for i in range(6)]))


def test_time_index_selects_frames(tmp_path):
    path = Burgers(resolution=32, n_times=3, t_end=0.2).generate(2, tmp_path / "b.h5", progress=False)
    full, last = FieldDataset(path), FieldDataset(path, time_index=-1)
    assert full[0]["y"].shape == (3, 32) and last[0]["y"].shape == (1, 32)
    assert torch.equal(last[0]["y"][0], full[0]["y"][-1])


def test_random_split_is_deterministic(darcy_file):
    ds = FieldDataset(darcy_file)
    a = [s.indices for s in random_split(ds, [4, 2], seed=1)]
    b = [s.indices for s in random_split(ds, [4, 2], seed=1)]
    assert a == b and sorted(a[0] + a[1]) == list(range(6))
    assert [len(s) for s in random_split(ds, [0.5, 0.5])] == [3, 3]
    with pytest.raises(ValueError, match="exceed"):
        random_split(ds, [5, 5])


def test_normalisers_round_trip_and_statistics():
    g = torch.Generator().manual_seed(0)
    x = 3 + 2 * torch.randn(40, 2, 8, 8, generator=g)
    point = GaussianNormalizer(pointwise=True).fit(x)
    assert torch.allclose(point.mean, x.mean(0), atol=1e-5) and torch.allclose(point.std, x.std(0), atol=1e-5)
    scalar = GaussianNormalizer(pointwise=False).fit([x[:15], x[15:]])  # streamed in two batches
    assert torch.allclose(scalar.mean.flatten(), x.transpose(0, 1).reshape(2, -1).mean(1), atol=1e-5)
    assert torch.allclose(scalar.std.flatten(), x.transpose(0, 1).reshape(2, -1).std(1), atol=1e-5)
    for norm in (point, scalar):
        assert torch.allclose(norm.decode(norm.encode(x)), x, atol=1e-5)
    assert scalar.encode(torch.randn(3, 2, 16, 16)).shape == (3, 2, 16, 16)  # any resolution
    with pytest.raises(ValueError, match="pointwise=False"):
        point.encode(torch.randn(3, 2, 16, 16))
    with pytest.raises(RuntimeError, match="not been fitted"):
        GaussianNormalizer().encode(x)


def test_normalized_model_state_dict_carries_the_normalisers():
    x = torch.randn(10, 1, 4, 4) * 5 + 1
    model = NormalizedModel(torch.nn.Conv2d(1, 1, 1), GaussianNormalizer().fit(x),
                            GaussianNormalizer(pointwise=False).fit(x))
    state = model.state_dict()
    assert {"input_normalizer.mean", "output_normalizer.std"} <= set(state)
    clone = NormalizedModel(torch.nn.Conv2d(1, 1, 1), GaussianNormalizer(), GaussianNormalizer(pointwise=False))
    clone.load_state_dict(state)
    assert torch.equal(clone(x), model(x))


def test_subsample_helper():
    u = torch.arange(25.0).reshape(1, 5, 5)
    assert subsample(u, 2, 2).tolist() == [[[0.0, 2.0, 4.0], [10.0, 12.0, 14.0], [20.0, 22.0, 24.0]]]


@pytest.mark.skipif(not NEURALOPERATOR.is_dir(), reason="neuraloperator's small sets are not on this machine")
def test_neuraloperator_small_sets():
    darcy = load_pt_dataset(NEURALOPERATOR / "darcy_train_16.pt")
    assert len(darcy) == 1000 and darcy[0]["x"].shape == (1, 16, 16) and darcy[0]["x"].dtype == torch.float32
    assert set(torch.unique(darcy[0]["x"]).tolist()) <= {0.0, 1.0}
    burgers = load_pt_dataset(NEURALOPERATOR / "burgers_train_16.pt", indices=range(10))
    assert len(burgers) == 10 and burgers[0]["x"].shape == (1, 16) and burgers[0]["y"].shape == (17, 16)
