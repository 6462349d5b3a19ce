"""Train the bundled VAE-family variants with genedit's own trainer and install them in the plugin.

    .venv/bin/python scripts/train_bundled_vae.py                 # every variant, one after another
    .venv/bin/python scripts/train_bundled_vae.py vae:digits      # one variant
    .venv/bin/python scripts/train_bundled_vae.py --list

Each run goes through the same :class:`genedit_core.training.Trainer` path as ``genedit train``
(the recipe below is exactly its ``--set`` overrides), into ``runs/vae/<model>-<variant>/``. The
exported ``model.safetensors`` is copied to ``plugins/genedit-vae/genedit_vae/weights/`` and
``manifest.json`` records its sha256, the architecture/config needed to load it, the recipe and
the wall-clock training time. Measure the result with ``scripts/eval_vae.py``.

Budgets are small: a few minutes each on a 2-core CPU, except the two 3,000-step β-VAE runs
(about 12 CPU-minutes each; about 75 s on an H200). ``--threads 1`` (the default) avoids
oversubscription when other jobs share the cores. ``--device cuda`` trains on a GPU, and
``--from-run DIR`` installs a run finished elsewhere (the bundled β-VAE pair was trained on an
NVIDIA H200 with this recipe; the manifest records the device).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "plugins" / "genedit-vae" / "genedit_vae" / "weights"
RUNS = REPO / "runs" / "vae"

DIGITS_MODEL = {
    "in_channels": 1,
    "image_size": 32,
    "latent_dim": 16,
    "width": 32,
    "depth": 3,
    "max_width": 64,
    "hidden": 128,
    "likelihood": "gaussian",
    "learn_sigma": True,
    "sigma": 0.1,
}
SHAPES_MODEL = {
    "in_channels": 3,
    "image_size": 32,
    "latent_dim": 10,
    "width": 32,
    "depth": 3,
    "max_width": 64,
    "hidden": 128,
    "likelihood": "bce",
}
SHAPES_TRAIN = {
    "steps": 3000,
    "batch_size": 64,
    "lr": 1e-3,
    "log_every": 25,
    "sample_every": 3000,
    "ckpt_every": 1000,
}


def shapes_beta_recipe(beta: float, description: str) -> dict:
    """The β-VAE comparison: both recipes differ only in β (same data, network and budget)."""
    return {
        "task": "beta-vae",
        "data": "builtin:shapes",
        "description": description,
        "overrides": {
            "model": SHAPES_MODEL,
            "loss": {"objective": "beta", "beta": beta},
            "data": {"shapes_n": 20000, "heldout": "builtin:shapes:heldout"},
            "train": SHAPES_TRAIN,
        },
    }


RECIPES: dict[str, dict] = {
    "vae:digits": {
        "task": "vae",
        "data": "builtin:digits",
        "description": "Digits (scikit-learn, 32×32 grey), Gaussian decoder with learned per-pixel σ on dequantized "
        "8-bit data; 16-d latent.",
        "overrides": {
            "model": DIGITS_MODEL,
            "loss": {"objective": "vae", "kl_warmup": 100},
            "data": {"dequantize": True, "heldout": "builtin:digits:heldout"},
            "train": {
                "steps": 700,
                "batch_size": 64,
                "lr": 1e-3,
                "log_every": 25,
                "eval_every": 100,
                "sample_every": 700,
                "ckpt_every": 700,
            },
        },
    },
    "beta-vae:shapes": shapes_beta_recipe(
        4.0, "β = 4 (Higgins) on the synthetic shapes set (shape, scale, x, y, hue); 10-d latent."
    ),
    "beta-vae:shapes-beta1": shapes_beta_recipe(
        1.0, "The β = 1 control (a plain VAE) with the same data, network and budget as 'shapes'."
    ),
    "svae:photos": {
        "task": "svae",
        "data": "builtin:skimage-photos",
        "description": "Sketch (XDoG) to image at 64×64, trained on augmented crops of the 10 scikit-image training "
        "photographs; the 5 held-out photographs are never seen.",
        "overrides": {
            "model": {
                "in_channels": 3,
                "image_size": 64,
                "depth": 4,
                "width": 16,
                "max_width": 64,
                "hidden": 128,
                "latent_dim": 16,
                "likelihood": "gaussian",
                "sigma": 0.1,
            },
            "loss": {"objective": "vae", "kl_warmup": 200},
            "sketch": {"method": "xdog"},
            "data": {"crop_min": 0.3, "length": 4000, "heldout": "builtin:skimage-photos:heldout"},
            "train": {
                "steps": 500,
                "batch_size": 32,
                "lr": 1e-3,
                "log_every": 25,
                "eval_every": 100,
                "sample_every": 500,
                "ckpt_every": 500,
            },
        },
    },
    "svae:shapes": {
        "task": "svae",
        "data": "builtin:shapes",
        "description": "Sketch (XDoG outline) to image on the synthetic shapes set at 32×32: the sketch fixes shape, "
        "position and size; the colour is left to z, which the Burgess capacity objective (C → 10 nats) keeps in use; "
        "the learned prior p(z|s) is fitted to the posterior separately (loss.prior_fit).",
        "overrides": {
            "model": {
                "in_channels": 3,
                "image_size": 32,
                "depth": 3,
                "width": 16,
                "max_width": 64,
                "hidden": 128,
                "latent_dim": 8,
                "likelihood": "bce",
                "sigma": 0.1,
            },
            "loss": {
                "objective": "capacity",
                "gamma": 20.0,
                "c_max": 10.0,
                "c_steps": 1500,
                "prior_fit": True,
            },
            "sketch": {"method": "xdog"},
            "data": {"shapes_n": 20000, "heldout": "builtin:shapes:heldout"},
            "train": {
                "steps": 3000,
                "batch_size": 64,
                "lr": 1e-3,
                "log_every": 25,
                "eval_every": 500,
                "sample_every": 3000,
                "ckpt_every": 1000,
            },
        },
    },
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    h.update(path.read_bytes())
    return h.hexdigest()


def set_overrides(overrides: dict, prefix: str = "") -> list[str]:
    """The recipe as ``genedit train --set`` arguments, for the model card."""
    out = []
    for k, v in overrides.items():
        if isinstance(v, dict):
            out += set_overrides(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}={json.dumps(v)}")
    return out


def train(key: str, seed: int, device: str = "auto", from_run: Path | None = None) -> dict:
    """Train ``key`` (or take the finished run ``from_run``) and install its weights in the plugin."""
    from genedit_vae.training import TASKS, task_config

    from genedit_core.device import choose_device
    from genedit_core.training.trainer import Trainer

    recipe = RECIPES[key]
    model, variant = key.split(":")
    overrides = copy.deepcopy(recipe["overrides"])
    overrides.setdefault("train", {})["seed"] = seed
    cfg = task_config(recipe["task"], overrides)
    run = from_run.resolve() if from_run else RUNS / f"{model}-{variant}"
    seconds = None
    if from_run is None:
        if run.exists():
            shutil.rmtree(run)
        started = time.perf_counter()
        Trainer(TASKS[recipe["task"]](), cfg, run, recipe["data"], quiet=True, device=device).fit()
        seconds = round(time.perf_counter() - started, 1)
        dev = choose_device(device)
        device = f"{dev} ({_device_name(dev)})"
    filename = f"{model}-{variant}.safetensors"
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "model.safetensors", WEIGHTS / filename)
    exported = json.loads((run / "config.json").read_text())
    metrics = run / "metrics.jsonl"
    last = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.is_file() else []
    final_train = next((r for r in reversed(last) if "loss" in r), {})
    final_eval = next((r["eval"] for r in reversed(last) if "eval" in r), None)
    return {
        "filename": filename,
        "sha256": sha256(WEIGHTS / filename),
        "config": {k: v for k, v in exported.items() if k != "genedit_task"},
        "description": recipe["description"],
        "recipe": {
            "command": f"genedit train {recipe['task']} --data {recipe['data']} --out runs/vae/{model}-{variant} "
            + " ".join(f"--set {s}" for s in set_overrides(overrides)),
            "steps": cfg["train"]["steps"],
            "batch_size": cfg["train"]["batch_size"],
            "seed": seed,
            "device": device,
        },
        "train_seconds": seconds,
        "final_train_metrics": {
            k: final_train[k] for k in ("recon", "kl", "elbo", "active_dims") if k in final_train
        },
        "final_heldout": final_eval,
    }


def _device_name(dev) -> str:
    import platform

    import torch

    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("variants", nargs="*", help="model:variant keys (default: all)")
    parser.add_argument("--list", action="store_true", help="show the recipes and exit")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (recorded in the manifest)")
    parser.add_argument(
        "--from-run",
        type=Path,
        default=None,
        help="install the finished run in this folder (trained with this recipe and --seed elsewhere, "
        "e.g. on a GPU machine) instead of training; --device then says where it was trained",
    )
    args = parser.parse_args()
    if args.list:
        for key, r in RECIPES.items():
            print(f"{key:24s} {r['description']}")
        return 0
    keys = args.variants or list(RECIPES)
    unknown = [k for k in keys if k not in RECIPES]
    if unknown:
        print(f"unknown variants {unknown}; have {list(RECIPES)}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    manifest_path = WEIGHTS / "manifest.json"
    for key in keys:
        print(f"{'installing' if args.from_run else 'training'} {key} ...", flush=True)
        if args.from_run is not None and len(keys) != 1:
            print("--from-run installs exactly one variant", file=sys.stderr)
            return 2
        entry = train(key, args.seed, args.device, args.from_run)
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        model, variant = key.split(":")
        manifest.setdefault(model, {})[variant] = entry
        # Keep the order of RECIPES so the first listed variant is each card's default.
        ordered: dict = {}
        for k in RECIPES:
            m, v = k.split(":")
            if v in manifest.get(m, {}):
                ordered.setdefault(m, {})[v] = manifest[m][v]
        manifest_path.write_text(json.dumps(ordered, indent=2, sort_keys=False) + "\n")
        print(f"  {key}: {entry['train_seconds']} s, heldout {entry['final_heldout']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
