"""Train the bundled ``paints`` weights, measure them against the baselines, and ship them only if
they beat both.

    nice -n 10 .venv/bin/python scripts/train_bundled_paints.py [--work runs/bundled-paints]

Runs ``genedit train paints`` with the recipe below on one thread, then
``benchmarks/colorize_report.py`` on the held-out photos. The weights are written (fp16) to
``plugins/genedit-colorize/genedit_colorize/weights/`` with a manifest entry (sha256, recipe,
CPU time, the report's table) only when paints beats the grey fill with 0 hints and the
nearest-hint fill with 5 hints; otherwise the script says so and ships nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from _common import ROOT, run_one_thread, train_command

WEIGHTS = ROOT / "plugins/genedit-colorize/genedit_colorize/weights"
RECIPE = ["model.features=16", "train.batch_size=8", "train.lr=2e-3", "train.steps=2000",
          "train.eval_every=250", "train.log_every=250"]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="runs/bundled-paints")
    args = ap.parse_args()
    run = Path(args.work)
    wall, cpu = run_one_thread(train_command("paints", run, RECIPE, data="builtin:skimage-photos"))
    report = run / "report.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/colorize_report.py"),
            "--weights",
            str(run),
            "--json",
            str(report),
        ],
        check=True,
    )
    table = json.loads(report.read_text())
    paints, grey, nearest = table["paints"], table["grey"], table["nearest-hint"]
    if not (paints["0"] > grey["0"] and paints["5"] > nearest["5"]):
        print(
            f"not shipped: paints {paints} against grey {grey['0']:.2f} (0 hints), nearest-hint {nearest['5']:.2f} (5)"
        )
        return 0
    from safetensors.torch import load_file, save_file

    WEIGHTS.mkdir(parents=True, exist_ok=True)
    dest = WEIGHTS / "paints-photos.safetensors"
    save_file({k: v.half() for k, v in load_file(run / "model.safetensors").items()}, dest)
    config = json.loads((run / "config.json").read_text())
    config.pop("genedit_task", None)
    entry = {
        "variant": "photos",
        "filename": dest.name,
        "sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
        "config": config,
        "licence": "Apache-2.0",
        "description": "Trained by genedit on XDoG drawings of builtin:skimage-photos with simulated "
        "hints; see docs/models/paints.md.",
        "recipe": {"data": "builtin:skimage-photos", "set": RECIPE},
        "train_wall_s": round(wall * 60, 1),
        "train_cpu_s": round(cpu * 60, 1),
        "report": table,
    }
    (WEIGHTS / "manifest.json").write_text(json.dumps({"paints": [entry]}, indent=2) + "\n")
    print(f"wrote {dest} ({dest.stat().st_size / 1024:.0f} KiB) after {cpu:.1f} CPU-minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
