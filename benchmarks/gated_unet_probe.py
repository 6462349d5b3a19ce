"""What the gated U-Net's learned part does, checkpoint by checkpoint, on validation photos.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gated_unet_probe.py RUN [--data DIR] [--max-side 384] [--steps N,M] [--split]

For each checkpoint of a ``genedit train gated-unet`` run (``RUN/checkpoints/step-*``) and for both
its live weights and their moving average (when the run kept one), prints PSNR in the hole per
photo next to the coarse fill alone (the network's parameter-free stage; for a ``blend`` network
the mean of its two fills, which is what it outputs untrained; ``--split`` also scores the learned
gate and the learned residual each alone), the mean paired per-photo gain over that coarse stage
with its standard error (the shipping rule of ``scripts/train_bundled_restore.py``), how far the refinement
moves the fill (RMS of output minus coarse fill over the hole, in 1/255 steps) and the last conv's
mean absolute weight. Why: the trainer's ``metrics.jsonl`` records one mean over the photos for
the exported weights only, which cannot tell a refinement that does nothing from one whose gains
on one photo cancel its losses on another. Holes are the evaluation's own seeded masks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml
from genedit_restore.evaluation import evaluate_inpainter, reference_images
from genedit_restore.layouts import make_module
from restore_report import coarse_stage
from safetensors.torch import load_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a genedit train gated-unet output folder")
    ap.add_argument("--data", default=None, help="reference photos (default: the run's data.eval)")
    ap.add_argument(
        "--max-side", type=int, default=None, help="centre crop (default: the run's data.eval_max_side)"
    )
    ap.add_argument("--steps", default=None, help="comma-separated checkpoint steps (default: all)")
    ap.add_argument(
        "--split", action="store_true", help="blend networks: also the gate alone and the residual alone"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = yaml.safe_load((args.run / "config.yaml").read_text())
    refs = reference_images(
        args.data or cfg["data"]["eval"], args.max_side or cfg["data"].get("eval_max_side")
    )
    names = [name for name, _ in refs]
    blend = cfg["model"].get("coarse") == "blend"
    print(f"{'weights':<32} {'mean':>7} {'vs coarse':>15} " + " ".join(f"{n[:12]:>12}" for n in names)
          + "  move/255  |out.w|")  # fmt: skip
    # an untrained blend network outputs the two fills' mean: that is its coarse stage alone
    kinds = ("biharmonic", "harmonic", "mean") if blend else ("biharmonic",)
    for kind in kinds:
        rows = evaluate_inpainter(coarse_stage(kind), refs)["rows"]
        print(f"{'coarse ' + kind:<32} {np.mean([r['psnr_hole'] for r in rows]):7.3f} {'':>15} "
              + " ".join(f"{r['psnr_hole']:12.3f}" for r in rows), flush=True)  # fmt: skip
    reference = np.array([r["psnr_hole"] for r in rows])  # the last: the network's own coarse stage
    own_coarse = coarse_stage(kinds[-1])
    ckpts = sorted((args.run / "checkpoints").glob("step-*"))
    if args.steps:
        wanted = {int(s) for s in args.steps.split(",")}
        ckpts = [c for c in ckpts if int(c.name.split("-")[1]) in wanted]
    torch.manual_seed(0)  # a fresh network of the run's config: how far its start moves the fill
    fresh = make_module("gated-unet", cfg["model"]).state_dict()
    parts = ("", " gate only", " residual only") if blend and args.split else ("",)
    for ckpt in [None, *ckpts]:
        nets = load_file(ckpt / "nets.safetensors") if ckpt else {}
        for prefix in ("model", "model_ema"):
            state = {k[len(prefix) + 1 :]: v.float() for k, v in nets.items() if k.startswith(prefix + "/")}
            if ckpt is None and prefix == "model":
                state = fresh
            if not state:
                continue
            for part in parts:
                net = make_module("gated-unet", cfg["model"]).eval()
                net.load_state_dict(_keep(state, part))
                moves = []

                def run(x: torch.Tensor, hole: np.ndarray, net=net, moves=moves) -> torch.Tensor:
                    out = net.fill(x, torch.from_numpy(hole)[None, None].float())
                    diff = (out - own_coarse(x, hole))[:, :, torch.from_numpy(hole)]
                    moves.append(float(diff.square().mean().sqrt()) * 255)
                    return out

                rows = evaluate_inpainter(run, refs)["rows"]
                scores = np.array([r["psnr_hole"] for r in rows])
                gain = scores - reference
                se = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else float("nan")
                label = (
                    f"{ckpt.name} {'ema' if prefix == 'model_ema' else 'live'}" if ckpt else "fresh, seed 0"
                )
                print(f"{label + part:<32} {scores.mean():7.3f} {gain.mean():+7.3f} ± {se:5.3f} "
                      + " ".join(f"{v:12.3f}" for v in scores)
                      + f"  {np.mean(moves):8.2f}  {float(state['out.weight'].abs().mean()):.2e}", flush=True)  # fmt: skip
    return 0


def _keep(state: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    """``state`` with the last conv's gate (channel 0) or residual (1-3) rows zeroed: ``part``
    " gate only" keeps the gate, " residual only" the residual, "" both."""
    if not part:
        return state
    drop = slice(1, None) if part == " gate only" else slice(0, 1)
    out = dict(state)
    for key in ("out.weight", "out.bias"):
        out[key] = state[key].clone()
        out[key][drop] = 0
    return out


if __name__ == "__main__":
    raise SystemExit(main())
