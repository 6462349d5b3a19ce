"""Train, evaluate and package the bundled SR weights (EDSR-baseline x2/x4, ESPCN x2/x4, SRCNN x2).

Everything goes through the public CLI, so this script is also the recipe a user would follow:

    python scripts/train_bundled_sr.py [--only edsr-baseline-x2,...] [--work runs/bundled]

Data: the scikit-image sample images of ``builtin:skimage-photos`` (public domain / CC0); the five
photographs of ``builtin:skimage-photos:heldout`` are never trained on and are the evaluation set.
The weights are stored as fp16 safetensors in plugins/genedit-sr/genedit_sr/weights/ and described,
with their recipe, timings and measured PSNR/SSIM, in weights/manifest.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "plugins" / "genedit-sr" / "genedit_sr" / "weights"
FAST = ["--set", "train.bf16=true", "--set", "train.channels_last=true"]

# name -> (card, scale, overrides). Step counts fit a 2-core CPU in minutes, not hours.
RECIPES: dict[str, tuple[str, int, list[str]]] = {
    "espcn-x2": ("espcn", 2, ["train.steps=6000", "train.batch_size=32", "train.lr=1e-3", "data.patch=32"]),
    "espcn-x4": ("espcn", 4, ["train.steps=6000", "train.batch_size=32", "train.lr=1e-3", "data.patch=24"]),
    "srcnn-x2": ("srcnn", 2, ["train.steps=1500", "train.batch_size=32", "train.lr=1e-3", "data.patch=24"]),
    "edsr-baseline-x2": (
        "edsr-baseline",
        2,
        ["train.steps=900", "train.batch_size=16", "train.lr=4e-4", "data.patch=32"],
    ),
    "edsr-baseline-x4": (
        "edsr-baseline",
        4,
        ["train.steps=600", "train.batch_size=16", "train.lr=3e-4", "data.patch=24"],
    ),
}
WARM_START = {"edsr-baseline-x4": "edsr-baseline-x2"}
# Runs continued after their first schedule ended (a cosine warm restart up to this many steps).
EXTEND = {"edsr-baseline-x2": 2100}
MANIFEST_MODEL = {
    "espcn-x2": "espcn",
    "espcn-x4": "espcn",
    "srcnn-x2": "srcnn",
    "edsr-baseline-x2": "edsr-baseline",
    "edsr-baseline-x4": "edsr-baseline",
}
SEED = 0
THREADS = os.environ.get("GENEDIT_TRAIN_THREADS", "")  # e.g. 1 on a machine shared with other jobs


def genedit(*args: str) -> str:
    cmd = [sys.executable, "-m", "genedit_cli", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    env = dict(os.environ)
    if THREADS:
        env["OMP_NUM_THREADS"] = THREADS
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def to_fp16(src: Path, dst: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(src)).items()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(dst), metadata={"source": "genedit scripts/train_bundled_sr.py"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(RECIPES))
    ap.add_argument("--work", default=str(ROOT / "runs" / "bundled"))
    args = ap.parse_args()
    work = Path(args.work)
    manifest_path = WEIGHTS / "manifest.json"
    for name in args.only.split(","):
        card, scale, overrides = RECIPES[name]
        run = work / name
        sets = [x for o in overrides for x in ("--set", o)] + [
            "--set",
            f"model.scale={scale}",
            "--set",
            f"train.seed={SEED}",
        ]
        if name in WARM_START:
            sets += ["--set", f"model.init={work / WARM_START[name] / 'model.safetensors'}"]
        started = time.time()
        commands = [f"genedit train {card} --data builtin:skimage-photos " + " ".join(sets + FAST)]
        if (run / "checkpoints" / "last.json").exists():  # an interrupted run continues where it stopped
            genedit("train", card, "--resume", str(run), "-q")
        else:
            genedit("train", card, "--data", "builtin:skimage-photos", "--out", str(run), *sets, *FAST, "-q")
        if name in EXTEND:
            genedit("train", card, "--resume", str(run), "--set", f"train.steps={EXTEND[name]}", "-q")
            commands.append(f"genedit train {card} --resume RUN --set train.steps={EXTEND[name]}")
        minutes = (time.time() - started) / 60
        report = json.loads(
            genedit(
                "eval",
                "upscale",
                "--model",
                card,
                "--weights",
                str(run),
                "--scale",
                str(scale),
                "--data",
                "builtin:skimage-photos:heldout",
                "--dtype",
                "fp32",
                "--json",
            )
        )
        fname = f"{name}.safetensors"
        to_fp16(run / "model.safetensors", WEIGHTS / fname)
        config = json.loads((run / "config.json").read_text())
        config.pop("genedit_task", None)
        config.pop("init", None)
        # read-modify-write at the last moment: several recipes may run side by side
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        entry = manifest.setdefault(MANIFEST_MODEL[name], {"files": {}, "licence": "Apache-2.0"})
        entry["config"] = {k: v for k, v in config.items() if k != "scale"}
        entry["description"] = (
            "Trained by genedit's shared trainer on scikit-image sample images "
            "(public domain / CC0); see docs/models/ for the recipe and numbers."
        )
        entry["files"][str(scale)] = {
            "filename": fname,
            "sha256": sha256(WEIGHTS / fname),
            "recipe": {
                "commands": commands,
                "seed": SEED,
                "minutes": round(minutes, 1),
            },
            "heldout": {k: round(v, 4) for k, v in report["summary"].items()},
            "heldout_rows": [
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                for r in report["rows"]
            ],
        }
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        s = report["summary"]
        print(
            f"{name}: {minutes:.1f} min, PSNR {s['psnr']:.2f} dB vs bicubic {s['bicubic_psnr']:.2f} "
            f"(gain {s['gain_db']:+.2f} dB), SSIM {s['ssim']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
