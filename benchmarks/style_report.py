"""genedit-style's targets (issue 13), measured in one run: quality, time, overhead, memory.

On scikit-image's astronaut (512×512, public domain) and the bundled painting (swirls.png, drawn by
scripts/draw_style_painting.py), resized once to 512² so that every method sees the same pixels:

1. ``feed``: fast-style (bundled), multistyle (style 0) and colour-transfer through genedit's
   pipeline at 512², seconds per image (best of ``--repeats`` after a warm-up), style and content
   loss of each output PNG.
2. ``memory``: a 1024² result through ``genedit run stylize -m gatys`` coarse to fine
   (``--octaves 3``) and directly, each in its own process; peak resident memory of that process
   (``os.wait4``'s ru_maxrss: the whole run, reading to writing).
3. ``gatys``: ``genedit run stylize -m gatys --size 512 --steps STEPS`` (L-BFGS), wall seconds of
   the process, style and content loss of the PNG it wrote, against the photo's own style loss.
4. ``overhead``: the same genedit command and ``benchmarks/style_gatys_plain.py`` (the same loop
   with torch alone: same network file, layers, weights and L-BFGS settings) started together, one
   thread each, ``--overhead-steps`` steps, so that the shared machine's load falls on both alike;
   wall seconds of each process and the largest pixel difference between their outputs.

All losses are measured here with the bundled VGG16 (``GatysLoss``, default layers): style is the
Gram loss against the painting, content the conv4_2 loss against the photo. Results go to stdout
as markdown, to ``--out/report.json`` stage by stage (a cut run keeps what finished) and the
picture grid to ``docs/models/img/style-report-grid.png``.

    nice -n 10 .venv/bin/python benchmarks/style_report.py --out /tmp/style-report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from genedit_style.features import resize_longest
from genedit_style.gatys import GatysLoss, StopEarly, stylize
from genedit_style.options import GatysSettings
from genedit_style.styleimage import read_style
from PIL import Image
from skimage import data

from genedit_core.images import read_image
from genedit_core.pipeline import apply
from genedit_core.sdk import load

ROOT = Path(__file__).resolve().parents[1]
GENEDIT = str(Path(sys.executable).with_name("genedit"))
PLAIN = str(ROOT / "benchmarks" / "style_gatys_plain.py")
GRID = ROOT / "docs" / "models" / "img" / "style-report-grid.png"
STAGES = ("feed", "memory", "gatys", "overhead")


def to_png(x: torch.Tensor, path: Path) -> Path:
    arr = (x[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def read(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def timed(cmd: list[str], threads: int) -> dict:
    """Run ``cmd``; wall seconds and the peak resident memory of that one process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env(threads), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return finish(proc, t0)


def finish(proc: subprocess.Popen, t0: float) -> dict:
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if proc.returncode:
        raise SystemExit(f"{' '.join(proc.args)} failed ({proc.returncode}): {err.strip()[-500:]}")  # type: ignore[arg-type]
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024, "stdout": out}


def gatys_cmd(content: Path, style: Path, out: Path, steps: int, size: int, *extra: str) -> list[str]:
    return [GENEDIT, "run", "stylize", "-m", "gatys", str(content), "--style", str(style),
            "--steps", str(steps), "--size", str(size), "-o", str(out), "--overwrite", *extra]  # fmt: skip


class Judge:
    """Style and content loss of an output against the 512² photo and painting (bundled VGG16)."""

    def __init__(self, content: torch.Tensor, style: torch.Tensor) -> None:
        self.net = load("gatys", device="cpu", dtype="fp32").module
        self.loss = GatysLoss(self.net, content, style, GatysSettings())
        self.photo = self(content)

    def __call__(self, image: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            t = self.loss.terms(image)
        return {"style": float(t["style"]), "content": float(t["content"])}


def stage_feed(work: Path, judge: Judge, threads: int, repeats: int) -> list[dict]:
    torch.set_num_threads(threads)
    photo = read_image(work / "photo512.png")
    rows = []
    for method, params in (
        ("fast-style", {}),
        ("multistyle", {"style": "0"}),
        ("colour-transfer", {"style": str(work / "style512.png")}),
    ):
        model = load(method, device="cpu", dtype="fp32")
        out = apply(model, photo, task="stylize", tile=0, params=params)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = apply(model, photo, task="stylize", tile=0, params=params)
            times.append(time.perf_counter() - t0)
        path = to_png(torch.from_numpy(out.pixels).permute(2, 0, 1)[None], work / f"{method}.png")
        rows.append({"method": method, "seconds": min(times), **judge(read(path))})
    return rows


def stage_memory(work: Path, threads: int, steps: int) -> list[dict]:
    rows = []
    for label, extra in (("coarse-to-fine (--octaves 3)", ["--octaves", "3"]), ("direct", [])):
        cmd = gatys_cmd(work / "photo1024.png", work / "style512.png", work / "big.png", steps, 1024, *extra)
        r = timed(cmd, threads)
        rows.append(
            {
                "run": label,
                "steps_per_octave": steps,
                "seconds": r["seconds"],
                "peak_rss_mib": r["peak_rss_mib"],
            }
        )
    return rows


def stage_gatys(work: Path, judge: Judge, threads: int, steps: int, deadline: float) -> dict:
    """The plugin's own loop (``genedit_style.gatys.stylize``, as the edit hook calls it) in this
    process, so that a run cut by ``deadline`` (epoch seconds) still returns its image and history."""
    torch.set_num_threads(threads)
    times: list[float] = []

    def progress(step: int, total: int, losses: dict[str, float]) -> None:
        times.append(time.perf_counter())
        if step % 10 == 0:
            print(
                f"  gatys step {step}/{total}: style {losses['style']:.4f} content {losses['content']:.3f}",
                flush=True,
            )
        if time.time() > deadline:
            raise StopEarly

    s = GatysSettings(steps=steps, size=512)
    r = stylize(judge.net, read(work / "photo512.png"), read(work / "style512.png"), s, progress)
    to_png(r.image, work / "gatys.png")
    start = r.start["style"]
    first90 = next((i + 1 for i, h in enumerate(r.history) if h["style"] <= 0.1 * start), None)
    return {"steps": len(r.history), "asked_steps": steps, "seconds": r.seconds,
            "seconds_per_step": (times[-1] - times[0]) / max(1, len(times) - 1),
            "first_step_90": first90, "end": r.end, **judge(read(work / "gatys.png"))}  # fmt: skip


def stage_overhead(work: Path, judge: Judge, steps: int) -> dict:
    ours_cmd = gatys_cmd(work / "photo512.png", work / "style512.png", work / "ours.png", steps, 512)
    plain_cmd = [sys.executable, PLAIN, str(work / "photo512.png"), str(work / "style512.png"),
                 "-o", str(work / "plain.png"), "--steps", str(steps), "--threads", "1"]  # fmt: skip
    with ThreadPoolExecutor(2) as pool:  # started together, each waited for on its own
        a, b = pool.map(lambda cmd: timed(cmd, 1), [ours_cmd, plain_cmd])
    diff = float((read(work / "ours.png") - read(work / "plain.png")).abs().max() * 255)
    return {"steps": steps, "genedit_seconds": a["seconds"], "plain_seconds": b["seconds"],
            "plain_loop_seconds": json.loads(b["stdout"])["seconds"], "overhead": a["seconds"] / b["seconds"] - 1,
            "max_pixel_difference": diff, "genedit": judge(read(work / "ours.png")),
            "plain": judge(read(work / "plain.png"))}  # fmt: skip


def grid(work: Path, names: list[str]) -> None:
    tiles = [Image.open(work / n).convert("RGB").resize((256, 256), Image.LANCZOS) for n in names]
    sheet = Image.new("RGB", (256 * len(tiles) + 4 * (len(tiles) - 1), 256), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, (i * 260, 0))
    GRID.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(GRID, optimize=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="style-report", help="folder for inputs, outputs and report.json")
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--steps", type=int, default=300, help="L-BFGS steps of the 512² gatys run")
    p.add_argument("--overhead-steps", type=int, default=300)
    p.add_argument("--memory-steps", type=int, default=4, help="steps per octave of the 1024² runs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--deadline", default="", help="UTC HH:MM: the gatys stage stops there, keeping its image")
    p.add_argument(
        "--tables", nargs="+", default=[], metavar="JSON",
        help="run nothing: merge these report.json files (stages of runs cut or split) and print the tables",
    )  # fmt: skip
    args = p.parse_args()
    if args.tables:
        merged: dict = {}
        for path in args.tables:
            merged |= json.loads(Path(path).read_text())
        print_tables(merged)
        return
    deadline = float("inf")
    if args.deadline:
        hh, mm = map(int, args.deadline.split(":"))
        deadline = datetime.now(timezone.utc).replace(hour=hh, minute=mm, second=0).timestamp()
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    photo = torch.from_numpy(np.asarray(data.astronaut(), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    content = read(to_png(resize_longest(photo, 512), work / "photo512.png"))
    style = read(to_png(resize_longest(read_style(None), 512), work / "style512.png"))
    to_png(
        torch.nn.functional.interpolate(content, size=(1024, 1024), mode="bicubic").clamp(0, 1),
        work / "photo1024.png",
    )
    torch.set_num_threads(args.threads)
    judge = Judge(content, style)
    report: dict = {"photo": judge.photo, "threads": args.threads, "command": " ".join(sys.argv)}
    print(f"photo's own losses (astronaut 512², bundled VGG16): style {judge.photo['style']:.4f}", flush=True)
    for stage in args.stages.split(","):
        t0 = time.perf_counter()
        if stage == "feed":
            report["feed"] = stage_feed(work, judge, args.threads, args.repeats)
        elif stage == "memory":
            report["memory"] = stage_memory(work, args.threads, args.memory_steps)
        elif stage == "gatys":
            report["gatys"] = stage_gatys(work, judge, args.threads, args.steps, deadline)
        elif stage == "overhead":
            report["overhead"] = stage_overhead(work, judge, args.overhead_steps)
        print(f"{stage}: {json.dumps(report[stage])} ({time.perf_counter() - t0:.0f} s)", flush=True)
        (work / "report.json").write_text(json.dumps(report, indent=1))
    print_tables(report)
    names = ["photo512.png", "style512.png"] + [
        n
        for n in ("gatys.png", "fast-style.png", "multistyle.png", "colour-transfer.png")
        if (work / n).exists()
    ]
    grid(work, names)
    print(f"grid: {', '.join(names)} -> {GRID.relative_to(ROOT)}")


def print_tables(report: dict) -> None:
    start = report["photo"]["style"]
    print("\n| method | style loss | drop vs photo's own | content loss | seconds (512²) |")
    print("|---|---|---|---|---|")
    print(f"| photo itself | {start:.4f} | — | 0 | — |")
    rows = (
        [{"method": f"gatys ({report['gatys']['steps']} L-BFGS steps)", **report["gatys"]}]
        if "gatys" in report
        else []
    ) + report.get("feed", [])
    for r in rows:
        print(
            f"| {r['method']} | {r['style']:.4f} | {100 * (1 - r['style'] / start):.1f}% | {r['content']:.3f} | {r['seconds']:.2f} |"
        )
    if "gatys" in report:
        for r in report.get("feed", []):
            print(f"{r['method']}: {report['gatys']['seconds'] / r['seconds']:.0f}× faster than gatys")
    if "gatys" in report:
        g = report["gatys"]
        print(f"gatys: {g['steps']} of {g['asked_steps']} steps, {g['seconds_per_step']:.1f} s per step; "
              f"style loss first ≥ 90% below the photo's at step {g['first_step_90']}")  # fmt: skip
    if "memory" in report:
        print("\n| 1024² run | steps per octave | seconds | peak resident memory |\n|---|---|---|---|")
        for r in report["memory"]:
            print(
                f"| {r['run']} | {r['steps_per_octave']} | {r['seconds']:.0f} | {r['peak_rss_mib'] / 1024:.2f} GiB |"
            )
    if "overhead" in report:
        o = report["overhead"]
        print(f"\noverhead ({o['steps']} steps, one thread each, run side by side): genedit {o['genedit_seconds']:.1f} s, "
              f"plain script {o['plain_seconds']:.1f} s -> {100 * o['overhead']:+.1f}%; outputs differ by at most "
              f"{o['max_pixel_difference']:.0f}/255; style loss {o['genedit']['style']:.4f} vs {o['plain']['style']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
