"""Shared pytest setup: one intra-op thread (the suite runs as parallel jobs on a
2-core CPU, see specs/nde.md section 6) and fixed seeds."""

import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def seeded():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
