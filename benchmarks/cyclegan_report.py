"""CycleGAN on the synthetic tone pair: how close A→B gets to the hidden mapping, and the two
known failure modes (colour inversion, mode collapse), measured on held-out photographs.

    .venv/bin/python benchmarks/cyclegan_report.py                     # the bundled 'tone' weights
    .venv/bin/python benchmarks/cyclegan_report.py --weights runs/cyclegan-tone [--json]

The five held-out scikit-image photographs (never cropped into either training domain), at most
256 pixels a side, go through both generators. Per image and on average:

- ``a2b`` PSNR of G_AB(x) against tone(x), the hidden ground truth, and the ``gain`` over the
  identity mapping (x against tone(x)); likewise ``b2a``: G_BA(tone(x)) against x;
- ``cycle``: PSNR of G_BA(G_AB(x)) against x;
- ``corr``: the mean over channels of the correlation between G_AB(x) and tone(x); an inverted
  channel makes it negative (junyanz #91, #744: colours inverted without identity loss);
- ``spread``: the mean pairwise distance between the five outputs over that between the five
  targets; a collapsed generator, giving every input the same picture (junyanz #421), is near 0.

Exit status 1 when a translation is no better than the identity, a channel is inverted, or the
spread is below 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch


def measure(weights: str | None, grid: str | None = None, truth=None) -> dict:
    """The report of a run or weights file; ``truth`` is the hidden A→B mapping (default: the tone
    pair's; scripts/cyclegan_lineart.py passes photo → XDoG line art)."""
    from genedit_cyclegan.build import directed
    from genedit_cyclegan.tone import photos, psnr, tone

    tone = truth or tone
    import genedit_core

    model = genedit_core.load("cyclegan", weights=weights, device="cpu", dtype="fp32")
    a2b, b2a = directed(model, "a2b"), directed(model, "b2a")
    rows, outs, targets, strips = [], [], [], []
    names = ["astronaut", "camera", "chelsea", "coffee", "coins"]
    with torch.inference_mode():
        for name, x in zip(names, photos("heldout")):
            h, w = (s - s % 4 for s in x.shape[-2:])
            x = x[None, :, :h, :w]
            y = tone(x)
            fake = a2b(x).clamp(0, 1)
            back = b2a(y).clamp(0, 1)
            rec = b2a(fake).clamp(0, 1)
            f, t = fake[0].flatten(1), y[0].flatten(1)
            corr = float(
                torch.stack([torch.corrcoef(torch.stack([f[c], t[c]]))[0, 1] for c in range(3)]).mean()
            )
            rows.append(
                {
                    "image": name,
                    "a2b": psnr(fake, y),
                    "a2b_gain": psnr(fake, y) - psnr(x, y),
                    "b2a": psnr(back, x),
                    "b2a_gain": psnr(back, x) - psnr(y, x),
                    "cycle": psnr(rec, x),
                    "corr": corr,
                }
            )
            small = torch.nn.functional.interpolate
            strip = torch.cat([x, fake, y, rec], dim=-1)  # photo | A→B | the truth | back to A
            strips.append(small(strip, size=(128, round(4 * w * 128 / h)), mode="area")[0])
            outs.append(small(fake, size=(64, 64), mode="area").flatten())
            targets.append(small(y, size=(64, 64), mode="area").flatten())
    if grid:
        _write_grid(strips, grid)
    spread = float(torch.pdist(torch.stack(outs)).mean() / torch.pdist(torch.stack(targets)).mean())
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0] if k != "image"}
    return {
        "weights": model.weights.origin if model.weights else None,
        "hyperparameters": model.hyperparameters,
        "rows": rows,
        "mean": mean,
        "spread": spread,
        "min_corr": min(r["corr"] for r in rows),
    }


def _write_grid(strips: list[torch.Tensor], path: str) -> None:
    """Strips stacked with 2-pixel white gutters, as 8-bit PNG."""
    import numpy as np
    from PIL import Image

    width = max(s.shape[-1] for s in strips)
    rows = [torch.nn.functional.pad(s, (0, width - s.shape[-1], 0, 2), value=1.0) for s in strips]
    img = torch.cat(rows, dim=1).permute(1, 2, 0).numpy()
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", help="a run folder or weights file (default: the bundled 'tone' variant)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--grid", help="also write held-out strips (photo | A→B | truth | back to A) to this PNG")
    args = ap.parse_args()
    torch.set_num_threads(1)
    report = measure(args.weights, args.grid)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"weights: {report['weights']}")
        cols = ["a2b", "a2b_gain", "b2a", "b2a_gain", "cycle", "corr"]
        print(f"{'image':<10}" + "".join(f"{c:>10}" for c in cols))
        for r in [*report["rows"], {"image": "mean", **report["mean"]}]:
            print(f"{r['image']:<10}" + "".join(f"{r[c]:>10.2f}" for c in cols))
        print(f"spread of the five A→B outputs over that of their targets: {report['spread']:.2f}")
    m = report["mean"]
    ok = m["a2b_gain"] > 0 and m["b2a_gain"] > 0 and report["min_corr"] > 0 and report["spread"] >= 0.5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
