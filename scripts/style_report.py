"""Measure Gatys style transfer as genedit-style runs it: losses, time, memory, and overhead.

For the feed-forward methods (``--methods fast-style,multistyle,colour-transfer``) the same style
and content losses are computed on their outputs, with the seconds per image at ``--size`` and
at 512². For Gatys, for each photo (scikit-image's held-out photographs: astronaut, chelsea, coffee; public domain or
CC0) and the bundled painting, run ``genedit_style.gatys.stylize`` at ``--size`` for ``--steps``
L-BFGS steps and report the style (Gram) loss of the photo itself (the start) and of the result,
its content loss, and the seconds taken. ``--plain`` also runs the same optimisation as a plain
loop written here with torch alone (same network module, same losses, same optimiser settings),
so the plugin's overhead is measured against it. Peak resident memory is the process's.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/style_report.py --size 128 --steps 100 --plain

Writes a markdown table to stdout (and ``--json FILE``). Timings depend on the machine and its
load: the docs quote the numbers with the machine they came from.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch
from genedit_style.features import gram, resize_longest
from genedit_style.gatys import stylize
from genedit_style.options import GatysSettings
from genedit_style.styleimage import read_style
from skimage import data

from genedit_core.sdk import load

PHOTOS = ("astronaut", "chelsea", "coffee")


def photo(name: str) -> torch.Tensor:
    arr = np.asarray(getattr(data, name)(), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def plain_gatys(net, content: torch.Tensor, style: torch.Tensor, s: GatysSettings) -> float:
    """The same optimisation as a plain script would write it; returns seconds."""
    t0 = time.perf_counter()
    c_layers, s_layers = list(s.content_layers), list(s.style_layers)
    with torch.no_grad():
        ct = net(content, c_layers)
        gt = {n: gram(v) for n, v in net(style, s_layers).items()}
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=s.steps, max_eval=s.steps, history_size=50,
                            tolerance_grad=-1.0, tolerance_change=-1.0)  # fmt: skip

    def closure():
        opt.zero_grad()
        f = net(x, c_layers + s_layers)
        lc = sum(((f[n] - ct[n]) ** 2).sum() / (ct[n] ** 2).sum() for n in c_layers)
        ls = sum(((gram(f[n]) - gt[n]) ** 2).sum() / (gt[n] ** 2).sum() for n in s_layers) / len(s_layers)
        tv = (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
        loss = s.content_weight * lc + s.style_weight * ls + s.tv_weight * tv
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return time.perf_counter() - t0


def feed_forward(
    methods: list[str], names: list[str], size: int, net, painting, weights: dict[str, str]
) -> list[dict]:
    """Style/content loss (same VGG, same painting as gatys) and seconds per image for the
    feed-forward methods at ``size``, and seconds at 512² (after one warm-up run)."""
    from genedit_style.gatys import GatysLoss

    rows = []
    for method in methods:
        kwargs = {"weights": weights[method]} if method in weights else {}
        model = load(method, device="cpu", dtype="fp32", **kwargs)
        for name in names:
            x = resize_longest(photo(name), size)
            loss = GatysLoss(net, x, resize_longest(painting, size), GatysSettings())
            with torch.no_grad():
                model(x)  # warm-up
                t0 = time.perf_counter()
                y = model(x)
                seconds = time.perf_counter() - t0
                start, end = loss.terms(x), loss.terms(y)
            rows.append({"method": method, "photo": name, "start": float(start["style"]), "end": float(end["style"]),
                         "content": float(end["content"]), "seconds": seconds})  # fmt: skip
        with torch.no_grad():
            big = torch.rand(1, 3, 512, 512)
            model(big)
            t0 = time.perf_counter()
            model(big)
            rows[-1]["seconds_512"] = time.perf_counter() - t0
        for r in rows[-len(names) :]:
            drop = 1 - r["end"] / r["start"]
            print(f"| {method} | {r['photo']} | {r['start']:.4f} | {r['end']:.4f} | {100 * drop:.1f}% | "
                  f"{r['content']:.3f} | {r['seconds']:.3f} |", flush=True)  # fmt: skip
        print(f"{method}: {rows[-1]['seconds_512']:.2f} s for one 512×512 image")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--photos", default=",".join(PHOTOS))
    parser.add_argument("--plain", action="store_true", help="also time the plain-script loop")
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--methods", default="gatys", help="comma-separated: gatys, fast-style, multistyle, colour-transfer"
    )
    parser.add_argument(
        "--fast-style-weights", default="", help="a fast-style run or file (default: its card's)"
    )
    args = parser.parse_args()
    methods = args.methods.split(",")
    torch.manual_seed(0)
    model = load("gatys", device="cpu", dtype="fp32")
    net, painting = model.module, read_style(None)
    s = GatysSettings(steps=args.steps, size=args.size)
    rows = []
    print(f"feature network: {model.weights.origin}; {torch.get_num_threads()} thread(s)")
    others = [m for m in methods if m != "gatys"]
    if others:
        print("| method | photo | style loss: photo | style loss: result | drop | content loss | seconds |")
        print("|---|---|---|---|---|---|---|")
        weights = {"fast-style": args.fast_style_weights} if args.fast_style_weights else {}
        rows += feed_forward(others, args.photos.split(","), args.size, net, painting, weights)
    if "gatys" not in methods:
        return
    print(
        "| photo | size | steps | style loss: photo | style loss: result | drop | content loss | seconds | plain script s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.photos.split(","):
        content = photo(name)
        r = stylize(net, content, painting, s)
        plain = None
        if args.plain:
            c = resize_longest(content, args.size)
            plain = plain_gatys(net, c, resize_longest(painting, args.size), s)
        drop = 1 - r.end["style"] / r.start["style"]
        row = {"photo": name, "size": list(r.image.shape[-2:]), "steps": args.steps, "start": r.start,
               "end": r.end, "style_drop": drop, "seconds": r.seconds, "plain_seconds": plain}  # fmt: skip
        rows.append(row)
        h, w = r.image.shape[-2:]
        print(f"| {name} | {w}×{h} | {args.steps} | {r.start['style']:.4f} | {r.end['style']:.4f} | "
              f"{100 * drop:.1f}% | {r.end['content']:.3f} | {r.seconds:.1f} | "
              f"{'' if plain is None else f'{plain:.1f}'} |", flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {"rows": rows, "peak_rss_mib": peak, "feature_network": model.weights.origin}, f, indent=1
            )


if __name__ == "__main__":
    main()
