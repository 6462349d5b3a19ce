"""β = 4 against β = 1 over several training seeds, same data, network and budget.

    .venv/bin/python scripts/study_beta_vae_seeds.py --seeds 0 1 2 3 4 [--steps 3000] [--device cuda]

One seed is not enough to compare disentanglement scores: they vary a lot between runs. This trains
the two ``beta-vae`` recipes of ``scripts/train_bundled_vae.py`` (``shapes`` and
``shapes-beta1``) with each seed into ``runs/vae/study/``, scores every run with the probe of
``scripts/eval_vae.py`` on the same 2,000 held-out shapes, and writes the per-run scores and their
mean and standard deviation to ``benchmarks/vae_beta_study.json``. A run folder that already holds
weights is scored, not retrained (link ``runs/vae/beta-vae-shapes`` to
``runs/vae/study/shapes-seed0-steps1000`` to reuse the bundled seed-0 runs).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "vae_beta_study.json"


def _recipes() -> dict:
    spec = importlib.util.spec_from_file_location(
        "train_bundled_vae", REPO / "scripts" / "train_bundled_vae.py"
    )
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod.RECIPES


def score_run(run: Path) -> dict:
    import torch
    from genedit_vae.probe import disentanglement_score
    from genedit_vae.shapes import CONTINUOUS, FACTORS, ShapesDataset

    import genedit_core

    data = ShapesDataset(2000, size=32, seed=777)
    x = data.images.float() / 255
    factors = data.factor_matrix()[:, [FACTORS.index(f) for f in CONTINUOUS]]
    m = genedit_core.load("beta-vae", weights=str(run), device="cpu").module
    with torch.no_grad():
        mu = torch.cat([m.encode(x[i : i + 500])[0] for i in range(0, len(x), 500)])
    return disentanglement_score(mu, factors, CONTINUOUS)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="override train.steps of both recipes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda; recorded with each run")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["shapes", "shapes-beta1"],
        help="beta-vae recipes to run (default both)",
    )
    args = parser.parse_args()
    import torch
    from genedit_vae.training import TASKS, task_config

    from genedit_core.training.trainer import Trainer

    torch.set_num_threads(args.threads)
    recipes = _recipes()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {"runs": []}
    for seed in args.seeds:
        for key in (f"beta-vae:{v}" for v in args.variants):
            recipe = recipes[key]
            overrides = copy.deepcopy(recipe["overrides"])
            overrides["train"] = {**overrides["train"], "seed": seed, "sample_every": 0}
            if args.steps:
                overrides["train"]["steps"] = args.steps
            cfg = task_config(recipe["task"], overrides)
            run = (
                REPO
                / "runs"
                / "vae"
                / "study"
                / f"{key.split(':')[1]}-seed{seed}-steps{cfg['train']['steps']}"
            )
            started = time.perf_counter()
            reused = (run / "model.safetensors").is_file()  # e.g. a link to the bundled seed-0 run
            if not reused:
                Trainer(
                    TASKS[recipe["task"]](), cfg, run, recipe["data"], quiet=True, device=args.device
                ).fit()
            seconds = None if reused else round(time.perf_counter() - started, 1)
            score = score_run(run)
            entry = {
                "beta": cfg["loss"]["beta"],
                "seed": seed,
                "steps": cfg["train"]["steps"],
                "score": score["score"],
                "mean_gap": score["mean_gap"],
                "mean_full_r2": score["mean_full_r2"],
                "train_and_score_seconds": seconds,
                "reused_existing_run": reused,
                "device": args.device,
            }
            results["runs"] = [
                r
                for r in results["runs"]
                if (r["beta"], r["seed"], r["steps"]) != (entry["beta"], seed, entry["steps"])
            ] + [entry]
            print(json.dumps(entry), flush=True)
            summary = {}
            for beta in sorted({r["beta"] for r in results["runs"]}):
                for steps in sorted({r["steps"] for r in results["runs"]}):
                    runs = [r for r in results["runs"] if r["beta"] == beta and r["steps"] == steps]
                    vals = [r["score"] for r in runs]
                    if vals:
                        summary[f"beta={beta:g},steps={steps}"] = {
                            "n": len(vals),
                            "mean": round(statistics.mean(vals), 4),
                            "std": round(statistics.stdev(vals), 4) if len(vals) > 1 else None,
                            "mean_gap": round(statistics.mean(r["mean_gap"] for r in runs), 4),
                        }
            results["summary"] = summary
            OUT.parent.mkdir(parents=True, exist_ok=True)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
