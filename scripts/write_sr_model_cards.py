"""Render docs/models/<model>.md for the bundled SR weights from weights/manifest.json.

The numbers in the cards are exactly those ``scripts/train_bundled_sr.py`` measured with
``genedit eval`` and stored in the manifest; rerun both scripts to reproduce them.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "plugins" / "genedit-sr" / "genedit_sr" / "weights" / "manifest.json"
TITLES = {
    "edsr-baseline": (
        "EDSR-baseline",
        "Lim et al., *Enhanced Deep Residual Networks for Single Image "
        "Super-Resolution*, CVPRW 2017 (https://arxiv.org/abs/1707.02921)",
    ),
    "espcn": (
        "ESPCN",
        "Shi et al., *Real-Time Single Image and Video Super-Resolution Using an Efficient "
        "Sub-Pixel Convolutional Neural Network*, CVPR 2016 (https://arxiv.org/abs/1609.05158)",
    ),
    "srcnn": (
        "SRCNN",
        "Dong et al., *Image Super-Resolution Using Deep Convolutional Networks*, TPAMI 2016 "
        "(https://arxiv.org/abs/1501.00092)",
    ),
}
HUB = {
    "edsr-baseline": "`super-image` (default): `hf://eugenesiow/edsr-base` `pytorch_model_{2,3,4}x.pt`, "
    "revision `main` (not pinned: the commit could not be looked up from the offline build "
    "machine), official EDSR key names, 0–1 input without mean shift.",
}


def card(name: str, entry: dict) -> str:
    title, paper = TITLES[name]
    lines = [f"# {title} (`{name}`)", "", f"Paper: {paper}.", ""]
    lines += ["## Weights", ""]
    if name in HUB:
        lines += [f"- {HUB[name]}"]
    lines += [
        "- `bundled`: trained by genedit's own trainer, shipped in the `genedit-sr` wheel as fp16 "
        "safetensors; licence Apache-2.0. Used automatically, with a warning, when the Hub is "
        "unreachable.",
        "",
    ]
    cfg = entry.get("config", {})
    lines += [f"Architecture (from `config`): `{json.dumps(cfg, sort_keys=True)}`", ""]
    lines += [
        "## Training data",
        "",
        "`builtin:skimage-photos`: ten scikit-image sample images that ship inside its wheel "
        "(rocket, hubble_deep_field, immunohistochemistry, retina, brick, grass, gravel, cell, text, "
        "microaneurysms; public domain or CC0 per scikit-image's notes). Random HR crops with flips and "
        "transposes; LR made by anti-aliased bicubic downscaling, rounded to 8 bits.",
        "",
        "Held-out evaluation set, never trained on: `builtin:skimage-photos:heldout` = astronaut "
        "(public domain, NASA), camera (CC0), chelsea (CC0), coffee (CC0), coins (no known copyright "
        "restrictions).",
        "",
    ]
    lines += [
        "## Recipe and measured quality",
        "",
        "PSNR/SSIM on the Y channel (BT.601), border cropped by the scale, 8-bit rounded output, "
        "measured by `genedit eval upscale ... --data builtin:skimage-photos:heldout --dtype fp32`. "
        "Bicubic is PyTorch's (a = −0.75) on the same LR input.",
        "",
    ]
    for scale, f in sorted(entry["files"].items(), key=lambda kv: int(kv[0])):
        h = f["heldout"]
        r = f["recipe"]
        cmds = ", then ".join(f"`{c}`" for c in r.get("commands", [r.get("command", "")]))
        lines += [
            f"### x{scale} — `{f['filename']}` (sha256 `{f['sha256'][:16]}…`)",
            "",
            f"- Commands: {cmds} (seed {r['seed']}; {r['minutes']} min of training on the "
            "shared 2-core build machine, one thread" + (f"; {r['note']}" if r.get("note") else "") + ").",
            f"- Held-out mean: **PSNR {h['psnr']:.2f} dB vs bicubic {h['bicubic_psnr']:.2f} dB "
            f"({h['gain_db']:+.2f} dB)**, SSIM {h['ssim']:.4f} vs {h['bicubic_ssim']:.4f}.",
            "",
            "| image | PSNR | SSIM | bicubic PSNR | bicubic SSIM | gain dB |",
            "|---|---|---|---|---|---|",
        ]
        for row in f["heldout_rows"]:
            lines.append(
                f"| {row['image']} | {row['psnr']:.2f} | {row['ssim']:.4f} | {row['bicubic_psnr']:.2f} | "
                f"{row['bicubic_ssim']:.4f} | {row['gain_db']:+.2f} |"
            )
        lines.append("")
    lines += [
        "## Limits",
        "",
        "Trained for minutes on ten images, not for days on DIV2K: far below the published "
        "DIV2K-trained figures in docs/models/README.md. It is a working offline default, not a "
        "state-of-the-art model; use the Hub variant when you can.",
        "",
        "Reproduce: `python scripts/train_bundled_sr.py && python scripts/write_sr_model_cards.py`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    manifest = json.loads(MANIFEST.read_text())
    for name, entry in manifest.items():
        if name in TITLES:
            (ROOT / "docs" / "models" / f"{name}.md").write_text(card(name, entry))
            print("wrote", f"docs/models/{name}.md")


if __name__ == "__main__":
    main()
