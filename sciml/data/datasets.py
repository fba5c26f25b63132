"""Datasets of field pairs: HDF5 files written by ``Problem.generate``, in-memory
tensors, and neuraloperator's small ``.pt`` sets.

Every item is ``{"x": input, "y": output}``, float32, channels first: a field of
shape ``(*space)`` becomes ``(1, *space)``; a field that already has a channel axis,
``(channels, *space)``, and a time series ``(T, *space)`` keep it (``T`` is the channel
axis unless ``time_index`` picks frames).
"""

from __future__ import annotations

import json
import pickle
import numbers
import os
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import Dataset, Subset

from sciml.validation import ArgumentTypeError, check_int, check_probability, check_seed, check_tensor

__all__ = ["FieldDataset", "TensorFieldDataset", "load_pt_dataset", "random_split", "subsample", "write_fields"]


def subsample(field: torch.Tensor, factor: int, n_spatial: int) -> torch.Tensor:
    """Every ``factor``-th point along the last ``n_spatial`` axes (FNO's ``::k``; on a
    vertex grid with ``s`` nodes it keeps both ends when ``factor`` divides ``s - 1``)."""
    field = check_tensor("field", field, layout="(..., *space)")
    factor = check_int("subsample factor", factor)
    n_spatial = check_int("n_spatial", n_spatial, minimum=0, maximum=field.dim(),
                          hint=f"the number of space axes, at most the {field.dim()} axes of the field "
                               f"{tuple(field.shape)}")
    if factor == 1:
        return field
    index = (Ellipsis,) + (slice(None, None, factor),) * n_spatial
    return field[index]


def _to_item(x: torch.Tensor, spatial: int, channel_axis: bool) -> torch.Tensor:
    x = x.to(torch.float32)
    return x.unsqueeze(0) if channel_axis and x.dim() == spatial else x


def _infer_spatial(x: torch.Tensor) -> int:
    """The number of space axes of samples ``x[i]`` when ``spatial`` is not given (see
    :class:`TensorFieldDataset`)."""
    sample = tuple(x.shape[1:])
    if len(sample) >= 2 and sample[0] == 1:
        return len(sample) - 1  # (n, 1, *space): the size-1 axis is the channel axis
    if len(sample) >= 3:
        raise ValueError(f"cannot tell the channel axis from space in samples of shape {sample}: pass "
                         f"spatial={len(sample) - 1} if axis 1 of x holds channels (or a time series), "
                         f"spatial={len(sample)} if every axis is space")
    return len(sample)


class TensorFieldDataset(Dataset):
    """Pairs from tensors ``x`` ``(n, ...)`` and ``y`` ``(n, ...)`` with ``spatial`` space axes.

    A sample of ``x`` or ``y`` is either a field ``(*space)`` (with ``channel_axis=True``
    it gains a channel axis, ``(1, *space)``) or already channels first,
    ``(channels, *space)``; any other rank is an error at construction.

    ``spatial=None`` infers the space axes from ``x``: samples ``(1, *space)`` hold one
    channel (``x`` of shape ``(n, 1, s, s)`` has two space axes, it does not gain a second
    channel axis); samples of rank 1 or 2 otherwise are all space (``(n, s)``: 1-D fields,
    ``(n, s, s)``: 2-D fields; pass ``spatial=1`` for ``(n, channels, s)``); samples of
    rank 3 or more with more than one leading channel are ambiguous and need ``spatial``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, spatial: int | None = None, channel_axis: bool = True):
        check_tensor("x", x, min_ndim=1, finite=True, layout="(n, ...)")
        check_tensor("y", y, min_ndim=1, finite=True, layout="(n, ...)")
        if len(x) != len(y):
            raise ValueError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
        if not isinstance(channel_axis, bool):
            raise ArgumentTypeError(f"channel_axis must be True or False, got {channel_axis!r}")
        self.spatial = _infer_spatial(x) if spatial is None else check_int("spatial", spatial, minimum=0)
        for name, value in (("x", x), ("y", y)):
            if value.dim() - 1 not in (self.spatial, self.spatial + 1):
                raise ValueError(f"{name} must be (n, *space) or (n, channels, *space) with {self.spatial} space "
                                 f"axes, got shape {tuple(value.shape)}; pass spatial= the number of space axes")
        self.x, self.y = x, y
        self.channel_axis = channel_axis

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return {"x": _to_item(self.x[i], self.spatial, self.channel_axis),
                "y": _to_item(self.y[i], self.spatial, self.channel_axis)}


class FieldDataset(Dataset):
    """Input/output pairs of an HDF5 file from ``Problem.generate``.

    Args:
        path: the file.
        spatial: number of space axes of the fields (default: the number of
            coordinate arrays named x, y, z in the file's ``grid`` group).
        indices: which samples (default all), e.g. ``range(1000)``.
        in_memory: read everything at construction (else lazily, item by item; the file
            is opened on first use in each process, so DataLoader workers and DDP ranks
            each get their own handle).
        subsample: keep every k-th point in space.
        time_index: for outputs ``(T, *space)``, keep frame(s) ``time_index`` (int or list).
        step_lag: time-stepper pairs instead: item ``(sample, k)`` is frame ``k`` of the
            output trajectory as ``x`` and frame ``k + step_lag`` as ``y`` (inputs unused),
            for every ``k`` of every sample (samples outer, frames inner).

    A lazy dataset holds an open HDF5 handle once read: ``close()`` releases it (the next
    item reopens it), and ``with FieldDataset(path) as data:`` closes it on exit.
    """

    def __init__(self, path: str | os.PathLike, *, spatial: int | None = None,
                 indices: Sequence[int] | None = None, in_memory: bool = False, subsample: int = 1,
                 time_index: int | Sequence[int] | None = None, input_key: str = "inputs",
                 output_key: str = "outputs", channel_axis: bool = True, step_lag: int | None = None):
        import h5py

        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentTypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}")
        self.path = Path(path)
        self._file = None
        if not self.path.is_file():
            raise FileNotFoundError(f"dataset {self.path} does not exist; create it with `sciml data generate`")
        for flag, value in (("in_memory", in_memory), ("channel_axis", channel_axis)):
            if not isinstance(value, bool):
                raise ArgumentTypeError(f"{flag} must be True or False, got {value!r} ({type(value).__name__})")
        if spatial is not None:
            spatial = check_int("spatial", spatial, hint="the number of space axes of the fields")
        if indices is not None:
            indices = indices.tolist() if isinstance(indices, torch.Tensor) else list(indices)
            if any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in indices):
                wrong = [i for i in indices if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
                raise ArgumentTypeError(f"indices must be ints, got {wrong[:3]}")
        self.keys, self.factor, self.time_index, self.channel_axis = (input_key, output_key), subsample, time_index, \
            channel_axis
        try:
            n, self.grid, self.attrs, ranks, frames = self._header(h5py)
        except OSError as err:
            raise OSError(f"{self.path} is not a readable HDF5 file (truncated, or another format: {err}); write "
                          f"it again with `sciml data generate` or Problem.generate") from None
        names = [c for c in ("x", "y", "z") if c in self.grid]
        if spatial is None and not self.grid:
            raise ValueError(f"{self.path} has no grid coordinates (its grid group is missing or empty), so the "
                             f"number of space axes is unknown; pass spatial= (e.g. spatial=2 for fields "
                             f"(n, s, s)) or write the file with grid={{'x': ..., 'y': ...}}")
        self.spatial = spatial if spatial is not None else max(1, len(names))
        if self.spatial > min(ranks):
            raise ValueError(f"spatial={self.spatial} exceeds the axes of the samples in {self.path} ({input_key}: "
                             f"{ranks[0]}, {output_key}: {ranks[1]} axes per sample); pass spatial= the number of "
                             f"space axes")
        if time_index is not None:
            if ranks[1] <= self.spatial:
                raise ValueError(f"time_index picks frames of outputs (T, *space), but the {output_key} of "
                                 f"{self.path} have {ranks[1]} axes per sample and {self.spatial} space axes: no "
                                 f"time axis; drop time_index")
            picks = [time_index] if isinstance(time_index, numbers.Integral) else time_index
            if isinstance(time_index, bool) or not isinstance(picks, (list, tuple)) or not picks:
                raise ArgumentTypeError(f"time_index must be an int or a non-empty list of ints, got {time_index!r}")
            for j, t in enumerate(picks):
                label = "time_index" if isinstance(time_index, numbers.Integral) else f"time_index[{j}]"
                check_int(label, t, minimum=-frames, maximum=frames - 1, hint=f"{self.path} holds {frames} frames per trajectory")
        subsample = check_int("subsample factor", subsample)
        self.grid = {k: (v[::subsample] if k in names else v) for k, v in self.grid.items()}
        self.indices = list(range(n)) if indices is None else [int(i) for i in indices]
        self.step_lag, self.pairs_per_sample = step_lag, 1
        if step_lag is not None:
            if time_index is not None:
                raise ValueError("step_lag and time_index exclude each other")
            with h5py.File(self.path, "r") as f:
                frames = f[output_key].shape[1] if f[output_key].ndim > self.spatial + 1 else 0
            step_lag = check_int("step_lag", step_lag, maximum=frames - 1,
                                 hint=f"{self.path} holds {frames} frames per trajectory")
            self.step_lag, self.pairs_per_sample = step_lag, frames - step_lag
        if any(not 0 <= i < n for i in self.indices):
            raise IndexError(f"indices must lie in [0, {n}) for {self.path}")
        self._data = None
        if in_memory:
            with h5py.File(self.path, "r") as f:
                self._data = tuple(torch.from_numpy(f[k][sorted(set(self.indices))]) for k in self.keys)
                self._row = {i: r for r, i in enumerate(sorted(set(self.indices)))}

    def __len__(self) -> int:
        return len(self.indices) * self.pairs_per_sample

    def _header(self, h5py) -> tuple[int, dict, dict, tuple[int, int], int]:
        """``(samples, grid, attributes, (input rank, output rank) per sample, output frames)``
        of the file; ``KeyError`` for a missing dataset."""
        with h5py.File(self.path, "r") as f:
            for key in self.keys:
                if key not in f:
                    raise KeyError(f"{self.path} has no dataset {key!r}; it holds {sorted(f.keys())}")
            grid = {k: v[()] for k, v in f["grid"].items()} if "grid" in f else {}
            attrs = {k: (json.loads(v) if k == "parameters" else v) for k, v in f.attrs.items()}
            ranks = (f[self.keys[0]].ndim - 1, f[self.keys[1]].ndim - 1)
            frames = f[self.keys[1]].shape[1] if f[self.keys[1]].ndim > 1 else 0
            return f[self.keys[0]].shape[0], grid, attrs, ranks, frames

    def close(self) -> None:
        """Release the HDF5 handle (if open); the next item read reopens the file."""
        if getattr(self, "_file", None) is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "FieldDataset":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self):
        self.close()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None  # h5py handles do not pickle; reopen in the worker
        return state

    def _read(self, k: int, i: int) -> torch.Tensor:
        if self._data is not None:
            return self._data[k][self._row[i]]
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return torch.from_numpy(self._file[self.keys[k]][i])

    def _field(self, raw: torch.Tensor, is_output: bool) -> torch.Tensor:
        raw = subsample(raw, self.factor, self.spatial)
        if is_output and self.time_index is not None and raw.dim() > self.spatial:
            raw = raw[self.time_index]
        return _to_item(raw, self.spatial, self.channel_axis)

    def __getitem__(self, j: int):
        if self.step_lag is not None:
            sample, k = divmod(j, self.pairs_per_sample)
            path = subsample(self._read(1, self.indices[sample]), self.factor, self.spatial)
            return {"x": _to_item(path[k], self.spatial, self.channel_axis),
                    "y": _to_item(path[k + self.step_lag], self.spatial, self.channel_axis)}
        i = self.indices[j]
        return {"x": self._field(self._read(0, i), False), "y": self._field(self._read(1, i), True)}


def load_pt_dataset(path: str | os.PathLike, indices: Sequence[int] | None = None) -> TensorFieldDataset:
    """neuraloperator's small sets (dicts with ``x`` and ``y``; boolean ``x`` becomes 0/1)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}")
    try:
        data = torch.load(Path(path), weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(f"{path} is not a torch file of tensors (torch.save of a dict with 'x' and 'y'): "
                         f"{str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), torch.Tensor) for k in ("x", "y")):
        raise ValueError(f"{path} must hold a dict with tensors 'x' and 'y'")
    x, y = data["x"].to(torch.float32), data["y"].to(torch.float32)
    if indices is not None:
        x, y = x[list(indices)], y[list(indices)]
    return TensorFieldDataset(x, y, spatial=x.dim() - 1)


def random_split(dataset: Dataset, lengths: Sequence[float | int], seed: int = 0) -> list[Subset]:
    """Disjoint random subsets with the given sizes (ints) or fractions (summing to 1),
    the same for the same seed."""
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise ArgumentTypeError(f"dataset must be a sized dataset (with __len__ and __getitem__), got "
                                f"{type(dataset).__name__}")
    seed = check_seed("seed", seed)
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or len(lengths) == 0:
        raise ArgumentTypeError(f"lengths must be a non-empty list of sizes (ints) or fractions (floats summing to "
                                f"1), got {lengths!r}")
    n = len(dataset)
    if all(isinstance(v, float) for v in lengths):
        fractions = [check_probability(f"lengths[{i}]", v, hint="fractions lie in [0, 1]")
                     for i, v in enumerate(lengths)]
        if abs(sum(fractions) - 1) > 1e-9:
            raise ValueError(f"lengths: fractions must sum to 1, got {sum(fractions)}")
        sizes = [int(v * n) for v in fractions]
        sizes[-1] = n - sum(sizes[:-1])
    else:
        sizes = [check_int(f"lengths[{i}]", v, minimum=0,
                           hint="sizes are non-negative ints (or pass fractions, all floats)")
                 for i, v in enumerate(lengths)]
        if sum(sizes) > n:
            raise ValueError(f"lengths: the split sizes {sizes} exceed the {n} samples")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, order[start:start + size]))
        start += size
    return out


def write_fields(path: str | os.PathLike, inputs: torch.Tensor, outputs: torch.Tensor,
                 grid: dict | None = None, attrs: dict | None = None) -> Path:
    """Write pairs in the layout of ``Problem.generate`` (datasets ``inputs``, ``outputs``,
    group ``grid``, attributes), atomically: for data derived from solver runs, e.g. the
    (coarse step, correction) pairs of a hybrid stepper. Read back with :class:`FieldDataset`."""
    import h5py

    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}")
    check_tensor("inputs", inputs, min_ndim=1, finite=True, layout="(n, ...)")
    check_tensor("outputs", outputs, min_ndim=1, finite=True, layout="(n, ...)")
    for name, value in (("grid", grid), ("attrs", attrs)):
        if value is not None and not isinstance(value, dict):
            raise ArgumentTypeError(f"{name} must be a dict (name -> values) or None, got {type(value).__name__}")
    if inputs.shape[0] != outputs.shape[0]:
        raise ValueError(f"inputs and outputs must hold the same number of samples, got {inputs.shape[0]} "
                         f"and {outputs.shape[0]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("inputs", data=inputs.detach().cpu().numpy())
        f.create_dataset("outputs", data=outputs.detach().cpu().numpy())
        group = f.create_group("grid", track_order=True)
        for name, value in (grid or {}).items():
            group.create_dataset(name, data=value)
        for name, value in (attrs or {}).items():
            f.attrs[name] = json.dumps(value) if isinstance(value, (dict, list)) else value
    os.replace(tmp, path)
    return path
