"""Per-process overhead of loading (issue 19): the owner's build runs with one torch CPU thread.

Building is hundreds of tiny tensor copies; with two threads on a loaded 2-core machine each one
waits for a busy core (EDSR-baseline's build: 2.2 s against 6 ms). So ``genedit_core.load`` builds
with one thread and gives the caller's count back afterwards, also when the build fails. These
tests check the thread count the hook saw and the count afterwards, never a time.
"""

from __future__ import annotations

import pytest
import torch
from inline_plugin import CardsPlugin, nearest_x2_model

import genedit_core
from genedit_core import hookimpl
from genedit_core.api import one_cpu_thread
from genedit_core.cards import ModelCard
from genedit_core.errors import PluginError

CARD = ModelCard(name="counted", tasks=("upscale",), family="toy", summary="s", needs_weights=False)


class Counting(CardsPlugin):
    """Builds a nearest x2 model and remembers the torch thread count its build ran with."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(CARD)
        self.seen: list[int] = []
        self.fail = fail

    @hookimpl
    def load_model(self, request):
        self.seen.append(torch.get_num_threads())
        if self.fail:
            raise RuntimeError("broken build")
        return nearest_x2_model(request)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_the_build_runs_on_one_thread_and_the_count_comes_back(install, two_threads):
    plugin = Counting()
    install(plugin)
    model = genedit_core.load("counted", device="cpu", dtype="fp32", backend="torch")
    assert plugin.seen == [1]
    assert torch.get_num_threads() == 2
    assert model(torch.zeros(1, 3, 2, 2)).shape == (1, 3, 4, 4)


def test_a_failing_build_gives_the_count_back_too(install, two_threads):
    plugin = Counting(fail=True)
    install(plugin)
    with pytest.raises(PluginError, match="broken build"):
        genedit_core.load("counted", device="cpu", dtype="fp32", backend="torch")
    assert plugin.seen == [1]
    assert torch.get_num_threads() == 2


def test_off_the_cpu_the_count_is_left_alone(two_threads):
    with one_cpu_thread(torch.device("meta")):
        assert torch.get_num_threads() == 2
    with one_cpu_thread(torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
