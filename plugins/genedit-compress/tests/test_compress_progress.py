"""optimize and bench say where they are: every phase, each fine-tune step and each timed call.

The callback travels in the request (``OptimizeRequest.progress``) and in the method context;
nothing in the plugin prints. The CLI shows it on stderr, never on stdout.
"""

from __future__ import annotations

import compress_tiny

from genedit_core.requests import OptimizeRequest

FAST = {**compress_tiny.FAST, "calib_count": "2"}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, int | None]] = []

    def __call__(self, phase: str, done: int | None = None, total: int | None = None) -> None:
        self.calls.append((phase, done, total))

    def phases(self) -> list[str]:
        """Phase names in order, a phase reported several times in a row counted once."""
        names: list[str] = []
        for phase, _, _ in self.calls:
            if not names or names[-1] != phase:
                names.append(phase)
        return names

    def counts(self, phase: str) -> list[tuple[int | None, int | None]]:
        return [(d, t) for p, d, t in self.calls if p == phase]


def test_optimize_reports_each_phase_and_each_finetune_step(plugins, tiny, tmp_path, images):
    progress = Recorder()
    params = {**FAST, "eval": images, "amount": "0.5", "finetune_steps": "5", "finetune_pool": "3"}
    request = OptimizeRequest("prune-structured", tiny.card, tiny, tmp_path / "o", params, progress=progress)
    report = plugins.hook.optimize(request=request)
    assert report["details"]["finetune"]["steps"] == 5
    assert progress.phases() == [
        "evaluation set",
        "time the original model",
        "score the original model on the evaluation set",
        "prune-structured",
        "fine-tune crops (3)",
        "label the fine-tune crops with the original model",
        "prune-structured (continued)",
        "fine-tune",
        "prune-structured (continued)",
        "time the optimized model",
        "score the optimized model on the evaluation set",
        "write results",
    ]
    assert [d for d, t in progress.counts("fine-tune") if t == 5] == [0, 1, 2, 3, 4, 5]
    assert progress.counts("time the original model")[-1] == (2, 2)  # one warm-up and one timed call
    assert progress.counts("label the fine-tune crops with the original model")[-1] == (3, 3)


def test_bench_reports_loading_warmup_and_every_timed_call(plugins):
    from genedit_compress.bench import bench_model

    progress = Recorder()
    rows = bench_model("tiny-edsr", size="24", repeats=2, methods=["prune-unstructured"], progress=progress)
    assert len(rows) == 2
    assert progress.phases() == [
        "load tiny-edsr",
        "prepare fp32 eager",
        "prepare prune-unstructured",
        "warm-up",
        "timing: 2 interleaved rounds",
        "peak memory",
    ]
    assert [d for d, _ in progress.counts("timing: 2 interleaved rounds")] == [0, 1, 2, 3, 4]
    assert progress.counts("warm-up")[-1] == (4, 4)


def test_optimize_and_bench_show_progress_on_stderr_unless_quiet(cli, tmp_path, images):
    args = ["optimize", "tiny-edsr", "--method", "prune-unstructured", "--eval", images]
    args += ["--bench-size", "24", "--repeats", "1", "--eval-crop", "24", "--eval-count", "1"]
    code, out, err = cli(*args, "--out", str(tmp_path / "a"))
    assert code == 0, err
    shown = [line for line in err.splitlines() if line.startswith("optimize: ")]
    assert shown[0] == "optimize: load tiny-edsr" and "optimize: write results" in shown
    assert "optimize: prune-unstructured" in shown
    assert "optimize:" not in out and "PSNR-Y" in out
    code, out, err = cli(*args, "--out", str(tmp_path / "b"), "--quiet")
    assert code == 0 and "optimize:" not in err

    code, out, err = cli("bench", "tiny-edsr", "--size", "24", "--repeats", "1", "--json")
    assert code == 0, err
    assert "bench: timing: 1 interleaved rounds (1)" in err.splitlines()
    assert out.lstrip().startswith("[")  # stdout holds only the JSON document
