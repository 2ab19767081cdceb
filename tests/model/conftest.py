"""One intra-op thread per model test: tiny matmuls gain nothing from two, and on a busy 2-core CI machine
OpenMP threads spinning at barriers make them many times slower. Restored after each test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
