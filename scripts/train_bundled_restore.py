"""Train and package the bundled weights of genedit-restore (DnCNN, gated U-Net), through the CLI.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/train_bundled_restore.py [--only dncnn|dncnn-s25|dncnn-s50|gated-unet] [--work runs/bundled-restore-photos]

Data (:func:`prepare_photos` writes it under ``WORK/photos``): the photographs of four Debian/Ubuntu
wallpaper packages, ``plasma-workspace-wallpapers`` (KDE; LGPL-3.0, authors in each
``/usr/share/wallpapers/NAME/metadata.json``), ``mate-backgrounds`` (GPL-2+, authors in
``/usr/share/doc/mate-backgrounds/copyright``) and ``lomiri-wallpapers-16.04``/``-20.04`` (Ubuntu
community photographs; CC-BY-4.0, CC-BY-SA-3.0/4.0 or CC0-1.0, per file in
``/usr/share/doc/lomiri-wallpapers-16.04/copyright``), box-downscaled 2-7x to about 900 pixels so
their JPEG artefacts average away, plus the ten scikit-image samples of ``builtin:skimage-photos``
(public domain / CC0). Three photographs (``VALIDATION``) are set aside: their 256-pixel centre
crops pick the best checkpoint. The five photographs of ``builtin:skimage-photos:heldout`` are never trained on and
choose nothing; the benchmark measures on them at full size. Without the packages the script
stops and says which ``sudo apt-get install`` line adds them.

* ``dncnn``: a colour, blind DnCNN (σ drawn per patch from 0-55), the paper's width and its
  grey depth (64 features, 17 layers; its colour blind model has 20), bf16 autocast; Gaussian
  noise in each step; 128-pixel crops drawn per image. It fine-tunes the weights shipped before
  (five earlier stages, recipes in docs/models/dncnn.md and ``INIT_CHAIN``), copied to
  ``WORK/dncnn-init.safetensors`` (``init.weights``) before they are replaced. On a shared 2-core
  machine run it with ``OMP_NUM_THREADS=1``: two threads per process among a dozen busy ones spin
  on each other (measured 2-7 patches/s, against 28 with one thread).
* ``dncnn-s25``, ``dncnn-s50`` (only with ``--only``): the variants ``photos-s25``/``photos-s50``, one
  fixed σ each (the paper's DnCNN-S beside its blind DnCNN-B), fine-tuned from the shipped
  ``photos-blind`` weights with the same data and crops, validated at their own σ. They are extra
  variants of ``dncnn``: ``photos-blind`` stays the default (``manifest.json`` lists it first).
  The validation crops are too few to tell such a run from the blind model (0.1 dB), so whether
  one ships is decided on a fresh split by ``scripts/select_restore_weights.py`` (its rule).
* ``gated-unet`` (only with ``--only gated-unet``): ``photos-blend``, a learned per-pixel blend of
  the biharmonic and harmonic fills plus a gated U-Net residual (16 features), on 192-pixel crops
  with strokes-and-boxes holes covering 5-40 % (drawn for a 288-768-pixel image), minus each crop's
  PSNR in its hole as the loss, a moving average of the weights, bf16. Checkpoints are picked on
  eleven whole validation photographs at 512 pixels (:func:`inpaint_validation`: the three
  ``VALIDATION`` ones and the eight fresh ones of ``scripts/select_restore_weights.py``; none is
  trained on). The rule for shipping, fixed before the first run of this recipe: the picked
  checkpoint ships only if its validation PSNR in the hole is above that of its own untrained
  coarse stage (the two fills' mean: 19.729 dB on these photos and holes, from
  ``benchmarks/restore_report.py``'s ``coarse-mean``) by more than one standard error of the paired
  per-photo differences (``benchmarks/gated_unet_probe.py`` prints both rows), i.e. only if the
  learned part adds something that is not noise. (The margin was added before the second run's
  first evaluation was read; the first run, 1000 steps, never rose above 19.7265.)
  The held-out photos are measured after that, never to choose. Earlier recipes (biharmonic
  alone + residual) never beat their coarse fill and shipped nothing (docs/models/gated-unet.md).
  The script writes what it trains where it writes the DnCNN, so apply the rule before committing.

The weights are stored as fp16 safetensors in plugins/genedit-restore/genedit_restore/weights/ and
described, with the recipe and the wall and CPU time the run took, in weights/manifest.json.
``benchmarks/restore_report.py`` measures them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "plugins" / "genedit-restore" / "genedit_restore" / "weights"

COMMON = ["train.lr=1e-3", "train.eval_every=200", "train.ckpt_every=200", "train.log_every=20"]


class Recipe(NamedTuple):
    """One bundled weights file: which genedit model trains it and how."""

    model: str  # the genedit model (``genedit train MODEL``); the manifest lists variants under it
    variant: str
    filename: str
    steps: int
    sets: list[str]  # --set overrides
    description: str
    init: str | None = None  # the shipped file (under weights/) it fine-tunes, when there


# the DnCNN stages' shared recipe since stage 5 (docs/models/dncnn.md)
DNCNN_SETS = [
    "model.channels=3",
    "model.features=64",
    "model.depth=17",
    # 128-pixel crops (40, 64, then 96 before): 53 % of a crop's pixels see no zero padding
    # through the 35-pixel receptive field (42 % at 96, 22 % at 64)
    "data.patch=128",
    "data.sample=image",  # each photo as likely as any other, whatever its size
    "data.eval_max_side=256",
    "train.batch_size=4",
    # fine-tunes the weights shipped before (see INIT_CHAIN); 1e-3 (the paper's Adam rate) left
    # this plain 17-layer stack at the identity (loss = the noise's variance) within 100
    # steps; at 1e-4 stage 4's validation fell 1.7 dB before recovering, so 5e-5
    "train.lr=5e-5",
    "train.schedule.warmup=50",
    "train.bf16=true",  # AMX: about 3x the fp32 step rate on this CPU
    "train.channels_last=true",
    "train.eval_every=250",
    "train.ckpt_every=250",
    "train.log_every=25",
    "train.max_minutes=50",  # a shared machine's deadline; the cut is recorded in metrics.jsonl
]
BLIND_FILE = "dncnn-color-blind.safetensors"


def _fixed_sigma(sigma: int) -> Recipe:
    """A fixed-σ colour DnCNN (the paper's DnCNN-S) fine-tuned from the blind weights: the blind
    network spends capacity on every σ in 0-55 and on telling them apart; one σ lets it spend it all
    on that level, at the cost of a model per σ. Validation at the same σ picks the checkpoint."""
    return Recipe(
        "dncnn",
        f"photos-s{sigma}",
        f"dncnn-color-s{sigma}.safetensors",
        3000,
        [*DNCNN_SETS, f"data.sigma={sigma}", f"data.eval_sigma={sigma}"],
        f"Colour DnCNN for σ = {sigma} only (17 layers, 64 features), fine-tuned by genedit's trainer "
        "from photos-blind on the same photographs with Gaussian noise of that σ; see docs/models/dncnn.md.",
        init=BLIND_FILE,
    )


RECIPES: dict[str, Recipe] = {
    "dncnn": Recipe(
        "dncnn",
        "photos-blind",
        BLIND_FILE,
        3000,
        [*DNCNN_SETS, "data.sigma=null", "data.sigma_range=[0,55]"],
        "Colour blind DnCNN (17 layers, 64 features) trained by genedit's trainer on photographs from "
        "Debian's wallpaper packages and the scikit-image samples, with Gaussian noise σ 0-55; see "
        "docs/models/dncnn.md.",
        init=BLIND_FILE,  # each stage fine-tunes the one shipped before
    ),
    "dncnn-s25": _fixed_sigma(25),
    "dncnn-s50": _fixed_sigma(50),
    "gated-unet": Recipe(
        "gated-unet",
        "photos-blend",
        "gated-unet-blend-f16.safetensors",
        1200,
        [
            # the coarse stage is a learned per-pixel blend of the biharmonic and harmonic fills
            # (docs/models/gated-unet.md: neither is better everywhere on validation photos)
            "model.coarse=blend",
            "model.features=16",
            "model.dilated=2",
            # the last conv starts random, not at zero (a zero start gives the U-Net's body no gradient)
            "model.out_init=0.05",
            # 192-pixel crops with strokes drawn for a 288-768-pixel image: the held-out photos are
            # 300-600 pixels, their holes as wide (run A, 128-pixel crops, batch 4, out_init 0.02,
            # fell below its coarse stage; the card)
            "data.patch=192",
            "data.coverage=[0.05,0.4]",
            "data.mask_scale=[1.5,4]",
            "data.sample=image",
            # whole validation photos at 512 pixels a side (inpaint_validation), not crops
            "data.eval_max_side=null",
            "train.batch_size=3",
            # minus each crop's PSNR in its hole, averaged: what the report averages per photo; under
            # mse textured crops outweighed smooth ones (the card)
            "loss.type=psnr",
            "ema.decay=0.995",
            "train.lr=1e-3",
            "train.schedule.warmup=50",
            "train.bf16=true",
            "train.eval_every=250",
            "train.ckpt_every=250",
            "train.log_every=50",
            "train.max_minutes=40",
        ],
        "A learned per-pixel blend of the biharmonic and harmonic fills, refined by a gated-convolution "
        "U-Net (16 features), trained by genedit's trainer on photographs from Debian's wallpaper "
        "packages and the scikit-image samples, with free-form strokes and boxes; see docs/models/gated-unet.md.",
    ),
}

# Where the weights a run starts from came from, by their sha256 (``init_sha256``), for the manifest
INIT_CHAIN = {
    "7dffa503c51bfd824844590e3bc671cda8987940d056399de86b253611b0621c": "photos-blind stage 5: 3000 "
    "steps on the KDE, MATE and lomiri photographs, 128-pixel crops, batch 4, Adam 5e-5, 50 warm-up "
    "steps, cosine, bf16, step 2250 kept; it fine-tuned sha256 bfe1dcb621511549... (stage 4: 5200 "
    "steps, 96-pixel crops, batch 4, Adam 1e-4, step 4000 kept), which fine-tuned stages 3 "
    "(1fabfa1b010d2215...), 2 (ea3d520aa1b5f163...) and 1 (14728dbc13e469ff...; docs/models/dncnn.md)",
    "bfe1dcb621511549140cca4fe2c02f145722d27dea3e13310ddd6451733956b4": "photos-blind stage 4: 5200 "
    "steps on the KDE, MATE and lomiri photographs, 96-pixel crops, batch 4, Adam 1e-4, 50 warm-up "
    "steps, cosine, bf16, step 4000 kept; it fine-tuned sha256 1fabfa1b010d2215... (stage 3: 2600 "
    "steps on the KDE and MATE photographs, 64-pixel crops, batch 8, Adam 1e-4, step 2250 kept), "
    "which fine-tuned stages 2 (ea3d520aa1b5f163...) and 1 (14728dbc13e469ff...; docs/models/dncnn.md)",
    "1fabfa1b010d221547b7e492eda8eba3c37fd34f98e9c2a7d0fc6b5de56434ca": "photos-blind stage 3: 2600 "
    "steps on the KDE and MATE photographs, 64-pixel crops, batch 8, Adam 1e-4, 50 warm-up steps, "
    "cosine, bf16, step 2250 kept; it fine-tuned sha256 ea3d520aa1b5f163... (stage 2: 3000 steps on "
    "those photographs, 40-pixel crops, batch 16, Adam 2e-4, step 2500 kept), which fine-tuned sha256 "
    "14728dbc13e469ff... (stage 1: 5000 steps on builtin:skimage-photos from scratch; docs/models/dncnn.md)",
    "ea3d520aa1b5f163de7c6463ea798e2bdf470fd3dc107a184a9389470a4b6b4a": "photos-blind stage 2: 3000 "
    "steps on these photographs, 40-pixel crops, batch 16, Adam 2e-4, 50 warm-up steps, cosine, bf16, "
    "step 2500 kept; it fine-tuned sha256 14728dbc13e469ff..., stage 1: 5000 steps on "
    "builtin:skimage-photos from scratch, area-weighted 40-pixel crops, batch 16, Adam 2e-4, 100 "
    "warm-up steps, cosine, bf16, step 4500 kept (docs/models/dncnn.md)",
}

# Photographs among the two Debian wallpaper packages (illustrations, renders and the star field
# MilkyWay left out after looking at each). Authors and licences: each folder's metadata.json
# (plasma-workspace-wallpapers, LGPL-3.0) and /usr/share/doc/mate-backgrounds/copyright (GPL-2+).
KDE_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
              "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")  # fmt: skip
KDE_DIR = Path("/usr/share/wallpapers")
MATE_DIR = Path("/usr/share/backgrounds/mate/nature")
# Photographs of lomiri-wallpapers-16.04 and -20.04 (Ubuntu community wallpapers; per-file authors
# and licences, CC-BY-4.0, CC-BY-SA-3.0/4.0 or CC0-1.0, in
# /usr/share/doc/lomiri-wallpapers-16.04/copyright). Their renders (Fossa, Infinite-Sea,
# Painting-Colors, umang), the other packages looked at (gnome-backgrounds, ukui-wallpapers: all
# renders or illustrations) and the lomiri package's own two PNG renders are left out.
LOMIRI_DIR = Path("/usr/share/backgrounds")
LOMIRI_PHOTOS = ("aitzgorri_by_Aitzol_Berasategi", "analogpattern_by_Peter_Nerlich", "Bridge_by_Sander_Klootwijk",
                 "Dragonfly_by_Bolly", "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi",
                 "greentock_by_Peter_Nerlich", "Kleiber_by_Lukas_Baubkus", "life_by_Aitzol_Berasategi",
                 "picosdeeuropa_by_Aitzol_Berasategi", "Picture_0B_by_freespace", "Picture_1A_by_freespace",
                 "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi", "Wine_by_Jakkub_Mede")  # fmt: skip
# not trained on: their centre crops pick the best checkpoint (the benchmark's held-out five never do)
VALIDATION = ("ColdRipple", "LadyBird", "Storm")
INSTALL_HINT = (
    "the training photos come from four Debian/Ubuntu packages; install them with\n"
    "  sudo apt-get install plasma-workspace-wallpapers mate-backgrounds lomiri-wallpapers-16.04 "
    "lomiri-wallpapers-20.04"
)


def _sources() -> list[tuple[str, Path]]:
    """(name, largest image file) of every photograph the packages hold."""
    from PIL import Image

    out = []
    for name in KDE_PHOTOS:
        files = sorted((KDE_DIR / name / "contents" / "images").glob("*.jpg"))
        if files:
            out.append((name, max(files, key=lambda f: _pixels(Image, f))))
    out += [(f.stem, f) for f in sorted(MATE_DIR.glob("*.jpg"))]
    lomiri = [(name, LOMIRI_DIR / f"{name}.jpg") for name in LOMIRI_PHOTOS]
    return out + [(name, path) for name, path in lomiri if path.exists()]


def _pixels(image_module, path: Path) -> int:
    with image_module.open(path) as im:
        return im.size[0] * im.size[1]


def prepare_photos(folder: Path) -> tuple[Path, Path]:
    """Write ``folder/train`` (the packages' photographs plus the ten bundled scikit-image samples)
    and ``folder/val`` (the VALIDATION photographs) as PNGs; return both folders.

    Why downscale: the wallpapers are JPEGs whose 8×8 block artefacts and chroma subsampling would
    be learnt as "clean"; an area (box) reduction by 2-3× to about 900 pixels a side averages them
    away and leaves sharper detail per pixel, closer to the held-out photos' scale.
    """
    from PIL import Image

    from genedit_core.sdk import resolve_data

    sources = _sources()
    if len(sources) < 10 or not {name for name, _ in sources} >= set(LOMIRI_PHOTOS):
        raise SystemExit(f"found {len(sources)} training photographs; {INSTALL_HINT}")
    train, val = folder / "train", folder / "val"
    for d in (train, val):
        d.mkdir(parents=True, exist_ok=True)
    for name, path in sources:
        dest = (val if name in VALIDATION else train) / f"{name}.png"
        if dest.exists():
            continue
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        factor = max(2, round(max(rgb.size) / 900))
        rgb.reduce(factor).save(dest)
    photos = resolve_data("builtin:skimage-photos")
    for i, name in enumerate(photos.names):
        dest = train / f"skimage-{name}.png"
        if not dest.exists():
            pixels = (photos[i].float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            Image.fromarray(pixels).save(dest)
    return train, val


INPAINT_VALIDATION_SIDE = 512


def inpaint_validation(folder: Path) -> Path:
    """Write the inpainting validation photos to ``folder``: the three ``VALIDATION`` photographs
    and the eight of ``select_restore_weights.FRESH_PHOTOS``, whole, box-resized to 512 pixels on
    the longer side. Why whole photos and not crops: the held-out photos are filled whole at 300-600
    pixels, and a fill's error deep in a wide hole depends on how far the known pixels are."""
    from PIL import Image
    from select_restore_weights import FRESH_PHOTOS
    from select_restore_weights import INSTALL_HINT as FRESH_HINT

    sources = [(name, path) for name, path in _sources() if name in VALIDATION]
    sources += [(p.name, p.path) for p in FRESH_PHOTOS]
    missing = [str(path) for _, path in sources if not path.exists()]
    if missing or len(sources) < len(VALIDATION) + len(FRESH_PHOTOS):
        raise SystemExit(
            f"missing validation photos {missing}; install them with\n  {FRESH_HINT}\n{INSTALL_HINT}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in sources:
        dest = folder / f"{name}.png"
        if dest.exists():
            continue
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        scale = INPAINT_VALIDATION_SIDE / max(rgb.size)
        rgb.resize((round(rgb.size[0] * scale), round(rgb.size[1] * scale)), Image.BOX).save(dest)
    return folder


def train(target: str, work: Path, resume: bool = False, extra: tuple[str, ...] = ()) -> dict:
    """Run ``genedit train`` for the recipe ``target`` in ``WORK/TARGET`` and package what it
    exports; ``extra`` are more ``--set`` overrides (recorded in the manifest's recipe). With
    ``resume``, continue that folder's run (``train.steps`` and ``train.max_minutes`` may have
    changed: a run cut by its deadline is finished with a step count that fits the next one)."""
    model, variant, filename, steps, sets, description, init_file = RECIPES[target]
    run = work / target
    train_dir, val_dir = prepare_photos(work / "photos")
    steps = next((int(x.split("=", 1)[1]) for x in reversed(extra) if x.startswith("train.steps=")), steps)
    extra = tuple(x for x in extra if not x.startswith("train.steps="))
    if model == "gated-unet":
        val_dir = inpaint_validation(work / "photos" / "val-inpaint")
    sets = [*sets, *extra, f"data.eval={val_dir}"]
    init = None
    if init_file and (WEIGHTS / init_file).exists():  # fine-tune the weights shipped before
        init = work / f"{target}-init.safetensors"
        init.parent.mkdir(parents=True, exist_ok=True)
        if not (resume and init.exists()):  # a resumed run keeps the file it started from
            init.write_bytes((WEIGHTS / init_file).read_bytes())
        sets.append(f"init.weights={init}")
    argv = [sys.executable, "-m", "genedit_cli", "train", model, "--data", str(train_dir),
            "--resume" if resume else "--out", str(run), "--device", "cpu", "-q"]  # fmt: skip
    for s in [*COMMON, *sets, f"train.steps={steps}"]:  # a recipe's own settings win
        argv += ["--set", s]
    init_sha = hashlib.sha256(init.read_bytes()).hexdigest() if init else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    subprocess.run(argv, check=True)
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    from safetensors.torch import load_file, save_file

    state = {k: v.half() for k, v in load_file(run / "model.safetensors").items()}
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    dest = WEIGHTS / filename
    save_file(state, dest)
    config = json.loads((run / "config.json").read_text())
    config.pop("genedit_task", None)
    evals = [
        json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line
    ]
    key = "psnr_hole" if model == "gated-unet" else "psnr"
    best = max(evals, key=lambda r: r["eval"][key]) if evals else None
    print(
        f"wrote {dest} ({dest.stat().st_size / 1024:.0f} KiB) in {wall / 60:.1f} min ({cpu_s / 60:.1f} CPU-min); best {best}"
    )
    return {
        "variant": variant,
        "filename": filename,
        "sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
        "config": config,
        "licence": "Apache-2.0",
        "description": description,
        "recipe": {
            "data": "photographs of Debian's plasma-workspace-wallpapers (LGPL-3.0), mate-backgrounds "
            "(GPL-2+) and lomiri-wallpapers-16.04/-20.04 (CC-BY-4.0, CC-BY-SA-3.0/4.0, CC0-1.0 per file), "
            "box-downscaled 2-7x to about 900 pixels, + builtin:skimage-photos (train split)",
            "steps": steps,
            "set": [*COMMON, *[x for x in sets if not x.startswith(("data.eval=", "init.weights="))]],
            "init_sha256": init_sha,
            "init": INIT_CHAIN.get(init_sha, "the weights shipped before") if init else None,
        },
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu_s, 1),
        "best_eval": best,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="runs/bundled-restore-photos")
    # no gated-unet run has beaten its own coarse fill, so none is shipped (see its card)
    ap.add_argument("--only", default="dncnn", help="comma-separated, from: " + ", ".join(RECIPES))
    ap.add_argument(
        "--resume", action="store_true", help="continue WORK/TARGET's run (e.g. one cut by train.max_minutes)"
    )
    ap.add_argument(
        "--set", action="append", default=[], help="one more KEY=VALUE override (e.g. train.max_minutes=40)"
    )
    args = ap.parse_args()
    manifest_path = WEIGHTS / "manifest.json"
    for target in args.only.split(","):
        entry = train(target, Path(args.work), args.resume, tuple(args.set))
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        manifest[RECIPES[target].model] = _with_entry(manifest.get(RECIPES[target].model, []), entry)
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


def _with_entry(entries: list[dict], entry: dict) -> list[dict]:
    """``entries`` with ``entry`` replacing the one of its variant, in RECIPES' order: the card's
    default variant is the first listed, so a fixed-σ run must not push ``photos-blind`` down."""
    order = [r.variant for r in RECIPES.values()]
    out = [e for e in entries if e["variant"] != entry["variant"]] + [entry]
    return sorted(out, key=lambda e: order.index(e["variant"]) if e["variant"] in order else len(order))


if __name__ == "__main__":
    raise SystemExit(main())
