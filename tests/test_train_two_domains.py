"""``genedit train --data-a A --data-b B``: the two image sets of a model that learns between domains
(unpaired translation), given to its task as ``data.a``/``data.b``; refused, by name, for a task
that trains on one dataset. Toy plugin only."""

from __future__ import annotations

import yaml
from _tiny_task import NoisyPairs, TinyTask
from toy_plugin import toy_card

from genedit_core import hookimpl


class TwoDomainTask(TinyTask):
    name = "pair"
    seen: list[tuple] = []

    def __init__(self) -> None:
        super().__init__()
        self.default_config = {**self.default_config, "data": {"a": None, "b": None}}

    def build_dataset(self, data, cfg):
        TwoDomainTask.seen.append((data, cfg["data"]["a"], cfg["data"]["b"]))
        return NoisyPairs()


class TwoDomainPlugin:
    name = "twodomains"

    @hookimpl
    def register_models(self, register):
        register(toy_card(name="pair"))
        register(toy_card(name="tiny"))

    @hookimpl
    def train(self, request):
        return TwoDomainTask() if request.card.name == "pair" else TinyTask()


def test_data_a_and_b_reach_the_task_as_config_keys(install, cli, tmp_path):
    install(TwoDomainPlugin())
    TwoDomainTask.seen.clear()
    # values stay text: a folder named 'true' or '1' is not parsed as YAML
    r = cli(
        "train", "pair", "--data-a", "photos", "--data-b", "1", "--out", "run", "--set", "train.steps=1", "-q"
    )
    assert r.code == 0, r
    assert TwoDomainTask.seen == [(None, "photos", "1")]
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["data"]["a"] == "photos" and saved["data"]["b"] == "1"


def test_a_one_dataset_model_refuses_them_by_name(install, cli):
    install(TwoDomainPlugin())
    r = cli("train", "tiny", "--data-b", "paintings", "--out", "run", "-q")
    assert r.code == 2, r
    assert "Traceback" not in r.err and len(r.error_lines) == 1
    assert "--data-b" in r.error_lines[0] and "'tiny'" in r.error_lines[0]
