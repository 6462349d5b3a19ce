"""Helpers live in cyclegan_testutil (a unique module name: two plugins' conftest modules would
otherwise shadow each other when test files import from them)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: the tiny networks here gain nothing from more, and on a busy 2-core
    machine two spinning threads made a 0.1 s training step take seconds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
