"""genedit_gan.training is one module per family: a family module left out of the registry's tuple
would never train, and every card of this plugin has a training task (the GAN cards are all trainable)."""

from __future__ import annotations

import pkgutil

import genedit_gan.training as package
import pytest
from genedit_gan.cards import CARDS
from genedit_gan.training import TASKS, task_for

from genedit_core.errors import UsageError

SHARED = {"common", "data"}  # what the families share, not a family


def test_every_family_module_is_registered_once_and_every_card_trains():
    modules = {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    registered = [m.__name__.rsplit(".", 1)[1] for m in package._MODULES]
    assert sorted(registered) == sorted(modules - SHARED)
    assert len(TASKS) == len(package._MODULES)  # no two modules claim one name
    assert {card.name for card in CARDS} == set(TASKS)
    assert list(TASKS) == ["gan", "dcgan", "biggan", "stylegan2"]  # the order error messages list


def test_each_call_gives_a_fresh_task_and_unknown_names_list_the_trainable():
    assert task_for("dcgan") is not task_for("dcgan")
    with pytest.raises(UsageError, match=r"trainable: gan, dcgan, biggan, stylegan2"):
        task_for("edsr")
