"""Datasets (HDF5 from ``problems``, tensors, neuraloperator's small sets), splits,
subsampling, and Gaussian normalisers that travel with checkpoints."""

from .datasets import FieldDataset, TensorFieldDataset, load_pt_dataset, random_split, subsample, write_fields
from .normalizers import GaussianNormalizer, NormalizedModel

__all__ = ["FieldDataset", "GaussianNormalizer", "NormalizedModel", "TensorFieldDataset", "load_pt_dataset",
           "random_split", "subsample", "write_fields"]
