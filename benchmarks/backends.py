"""EDSR-baseline x2 on 512² (or RRDB x4 on 128²) through each runtime genedit has, as ratios measured in one run.

The paths, all on the CPU, at the same thread count, with the same weights:

* **torch fp32 eager**: the network in fp32 on an NCHW tensor, called directly (the baseline a
  user of the bare network gets; the peers' EDSR and RRDBNet are the same networks in fp32 eager);
* **genedit default**: what ``genedit run upscale`` does with ``--backend torch``: ``dtype auto``
  (bf16 where the card allows it and the CPU has AMX/AVX512-BF16) and a channels-last input;
* **openvino**: ``--backend openvino`` at the same ``dtype auto`` (bf16 inference precision under
  the same rule), and **openvino f32** (``--dtype fp32``), when genedit-openvino is installed;
* **torch-compile**: ``--backend torch-compile`` (genedit-inductor: AOTInductor with frozen
  weights) at ``dtype auto``, and **torch-compile f32**, when genedit-inductor is installed.

Runs are interleaved, so every path meets the same load on a shared machine, and the ratios are
against fp32 eager. For each path it prints the median time, GFLOP/s against this CPU's conv peak
(a 64→64 3×3 conv on 256², measured here), the PSNR of its output against the fp32 output, and
(EDSR, whose weights are bundled) the change of held-out Y-PSNR against fp32. It also prints the
CPU's flags and load average, what converting or compiling cost once (cold cache) and loading again
(warm cache), and, with ``--processes``, whole ``genedit run`` processes of the default and of each
converted path with its cache warm, against fp32 eager's compute: the normal path
(``GENEDIT_WARM=0``) and, for each converting backend and ``auto``, the torch-free warm path a
user's second process takes (each line says which path the process logged;
``benchmarks/warm_process.py`` breaks the warm overhead down), and the peer's own whole
process (``benchmarks/peer_process.py``: bare torch, fp32 eager, no genedit), against which each
genedit process is also given as a ratio, whole process against whole process. ``--model rrdb`` runs RRDBNet x4
(Real-ESRGAN's layout, seeded random weights: none ship) on a 128² input. ``--coverage`` instead
loads every registered model with tiny random weights through ``--backend openvino`` and says which
convert and why the others do not.

    nice -n 10 .venv/bin/python benchmarks/backends.py [--model rrdb --repeats 3 --threads 2 --processes]
    nice -n 10 .venv/bin/python benchmarks/backends.py --coverage
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from sr_inference import conv_flops, conv_peak, test_image, weights_file

import genedit_core
from genedit_core.device import ONEDNN_ISA_LEVELS, cpu_flags, dtype_name, onednn_isa_cap, reported_cpu_flags
from genedit_core.metrics import psnr, rgb_to_y, to_uint8_range
from genedit_core.tiling import run_model

REPO = Path(__file__).resolve().parents[1]
#: what ``genedit --verbose run`` logs per image: which path computed it
COMPUTED_PATH = re.compile(r"computed in [0-9.]+ s \((warm path|normal path)\)")
SHOWN_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_line() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    except OSError:
        pass
    flags = cpu_flags()
    have = [f for f in SHOWN_FLAGS if f in flags]
    return f"{name}, {os.cpu_count()} cores; flags: {' '.join(have) or 'none of ' + ' '.join(SHOWN_FLAGS)}"


def apply_isa_cap(cap: str) -> None:
    """Run this script again with oneDNN and ATen capped to ``cap``: both read their variables once,
    at the first kernel, and torch is already imported, so the cap must be set before the process starts.
    Every process it starts (genedit runs, the peer) inherits the cap."""
    cap = cap.strip().upper()
    if os.environ.get("ONEDNN_MAX_CPU_ISA") == cap:
        return
    levels = [name for names, _ in ONEDNN_ISA_LEVELS for name in names]
    if cap not in levels:
        sys.exit(f"--isa-cap {cap}: expected one of {', '.join(levels)}")
    os.environ["ONEDNN_MAX_CPU_ISA"] = cap
    # ATen's vectorised kernels (elementwise, pixel shuffle) have AVX2 and AVX-512 builds.
    os.environ["ATEN_CPU_CAPABILITY"] = (
        "avx512" if levels.index(cap) >= levels.index("AVX512_CORE") else "avx2"
    )
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *sys.argv])


def isa_cap_line() -> str:
    hidden = sorted(f for f in set(reported_cpu_flags()) - set(cpu_flags()) if f in SHOWN_FLAGS)
    return (
        f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')} "
        f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', 'default')} "
        f"(torch reports {torch.backends.cpu.get_cpu_capability()}); the flags above are what genedit "
        f"sees under the cap; hidden: {' '.join(hidden) or 'none'}"
    )


def load_line() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def agreement(y: torch.Tensor, ref: torch.Tensor) -> float:
    a = to_uint8_range(ref[0].float().numpy().transpose(1, 2, 0))
    b = to_uint8_range(y[0].float().numpy().transpose(1, 2, 0))
    return psnr(rgb_to_y(b), rgb_to_y(a))


def whole_process(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one ``genedit`` process, and what it wrote to stderr."""
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.strip()[-300:]}")
    return time.perf_counter() - started, proc.stderr


#: the bare-network process a peer user runs (benchmarks/peer_process.py)
PEER = "peer fp32 eager (bare torch)"

# outcome -> short name for the summary line
SHORT = (
    ("converts", "converts"),
    ("trace kept its example's shape", "kept the example's shape"),
    ("does not trace", "did not convert"),
    ("differs from torch", "differs from torch"),
    ("OpenVINO cannot run it", "OpenVINO cannot run it"),
)


def coverage() -> None:
    """Which registered models convert: each card with its plugin's tiny random weights (the ones
    the conformance check uses), loaded in fp32 with ``backend="openvino"``; prints the outcome."""
    import json
    import warnings

    from safetensors.torch import save_file

    from genedit_core.api import check_scale
    from genedit_core.plugins import get_plugins

    plugins = get_plugins()
    tmp = Path(tempfile.mkdtemp(prefix="genedit-coverage-"))
    os.environ["GENEDIT_CACHE_DIR"] = str(tmp / "cache")
    counts: dict[str, int] = {}
    for card in sorted(plugins.registry.cards.values(), key=lambda c: (c.plugin or "", c.name)):
        name, scale = f"{card.plugin}:{card.name}", check_scale(card, None)
        weights = None
        if "tiny_weights" in (plugins.infos[card.plugin].hooks or []):
            torch.manual_seed(0)
            tiny = plugins.owner_hook("tiny_weights", card)(card=card, scale=scale)
            if tiny is not None:
                folder = tmp / card.name
                folder.mkdir()
                state = {k: v.detach().contiguous().clone() for k, v in tiny["state_dict"].items()}
                save_file(state, str(folder / "model.safetensors"))
                if tiny.get("config"):
                    (folder / "config.json").write_text(json.dumps(dict(tiny["config"])))
                weights = str(folder)
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = genedit_core.load(
                    name, scale=scale, weights=weights, device="cpu", dtype="fp32", backend="openvino"
                )
            except Exception as exc:
                outcome = f"not loaded: {str(exc).splitlines()[0][:120]}"
            else:
                said = [str(w.message) for w in caught if str(w.message).startswith("openvino:")]
                outcome = (
                    "converts"
                    if model.backend == "openvino"
                    else (said[0].split(": ", 2)[-1] if said else "?")
                )
        kind = next(
            (k for k, marker in SHORT if marker in outcome),
            "not loaded" if outcome.startswith("not loaded") else "other",
        )
        counts[kind] = counts.get(kind, 0) + 1
        print(f"{name:<24} {','.join(card.tasks):<32} {time.perf_counter() - started:5.1f}s  {outcome}")
    print("summary      : " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])))


#: what each --model measures: card, scale, input side, and whether bundled weights exist
MODELS = {
    "edsr": ("edsr-baseline", 2, 512),
    "rrdb": ("realesrgan", 4, 128),
}
#: converting backends timed beside torch, each at dtype auto and fp32: (label, entry point, COUNTS keys)
BACKENDS = {
    "openvino": ("openvino", "genedit_openvino.runtime", ("convert", "compile")),
    "torch-compile": ("torch-compile", "genedit_inductor.runtime", ("compile", "load")),
}


def model_weights(which: str, tmp: Path) -> tuple[str, str]:
    """(weights, description): EDSR's bundled file; for RRDB seeded random weights (none ship, and
    speed does not depend on the values; quality columns are then left out)."""
    if which == "edsr":
        return weights_file(tmp)
    from genedit_sr.layouts import make_module
    from safetensors.torch import save_file

    torch.manual_seed(0)
    module = make_module("rrdb", {"scale": 4})
    path = tmp / "rrdb-x4.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return str(path), "RANDOM RRDBNet x4 weights (seeded; 23 blocks, 64 features, as Real-ESRGAN x4)"


def model_input(side: int) -> torch.Tensor:
    """The astronaut photo at ``side``² (area-downscaled from 512² when smaller)."""
    x = test_image()
    if side != x.shape[-1]:
        x = torch.nn.functional.interpolate(x, size=(side, side), mode="area")
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", choices=sorted(MODELS), default="edsr", help="EDSR x2 512² or RRDB x4 128²"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path, interleaved")
    parser.add_argument("--threads", type=int, default=2, help="threads, the same for every path")
    parser.add_argument("--processes", action="store_true", help="also time whole genedit run processes")
    parser.add_argument("--no-quality", action="store_true", help="skip the held-out Y-PSNR evaluation")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"converting backends to time, comma-separated (default: {','.join(BACKENDS)})",
    )
    parser.add_argument("--no-f32", action="store_true", help="time converting backends at dtype auto only")
    parser.add_argument(
        "--coverage", action="store_true", help="instead: which registered models convert (tiny weights)"
    )
    parser.add_argument(
        "--isa-cap",
        metavar="ISA",
        help="cap oneDNN (torch's and OpenVINO's kernels) and torch's own kernels to ISA, e.g. AVX2, for "
        "this run and every process it starts: this CPU stands in for an older one",
    )
    args = parser.parse_args()
    if args.isa_cap:
        apply_isa_cap(args.isa_cap)
    torch.set_num_threads(args.threads)
    if args.coverage:
        return coverage()
    card, scale, side = MODELS[args.model]
    print(f"cpu          : {cpu_line()}")
    if onednn_isa_cap():
        print(f"isa cap      : {isa_cap_line()}")
    print(f"machine      : {load_line()} at start; torch {torch.__version__}, {args.threads} threads")

    tmp = Path(tempfile.mkdtemp(prefix="genedit-backends-"))
    os.environ["GENEDIT_CACHE_DIR"] = str(tmp / "cache")  # a cold cache: conversion is timed once
    weights, described = model_weights(args.model, tmp)
    x = model_input(side)
    base = genedit_core.load(card, scale=scale, weights=weights, device="cpu", dtype="fp32")
    baseline = base.module.eval().to(memory_format=torch.contiguous_format)
    paths = {"torch fp32 eager": lambda t: baseline(t)}
    default = genedit_core.load(card, scale=scale, weights=weights, device="cpu", dtype="auto")
    paths["genedit default"] = lambda t: run_model(default, t)
    kinds = {"torch fp32 eager": "fp32 NCHW", "genedit default": f"torch {dtype_name(default.dtype)}"}
    notes = []
    for name in [b for b in args.backends.split(",") if b]:
        backend, module_name, counted = BACKENDS[name]
        try:
            runtime = importlib.import_module(module_name)
        except ImportError:
            notes.append(f"{name:<13}: its plugin is not installed; its paths are left out")
            continue
        for label, dtype in ((name, "auto"), (f"{name} f32", "fp32"))[: 1 if args.no_f32 else 2]:
            started = time.perf_counter()
            genedit_core.load(card, scale=scale, weights=weights, device="cpu", dtype=dtype, backend=backend)
            t_cold = time.perf_counter() - started
            started = time.perf_counter()
            model = genedit_core.load(
                card, scale=scale, weights=weights, device="cpu", dtype=dtype, backend=backend
            )
            t_warm = time.perf_counter() - started
            if model.backend != backend:
                notes.append(f"{label:<13}: did not convert (see the warning above); left out")
                continue
            if backend == "openvino":
                kinds[label] = f"openvino {model.hyperparameters['openvino']['precision']}"
            else:
                kinds[label] = f"{backend} {dtype_name(model.dtype)}"
            so_far = ", ".join(f"{k} {runtime.COUNTS[k]}" for k in counted)
            notes.append(
                f"{label:<13}: load {t_cold:.2f} s with a cold cache ({so_far} so far), "
                f"{t_warm:.2f} s warm (same process)"
            )
            paths[label] = lambda t, m=model: run_model(m, t)

    outputs = {}
    with torch.inference_mode():
        for label, fn in paths.items():  # warm-up, and the outputs to compare
            outputs[label] = fn(x)
        times: dict[str, list[float]] = {label: [] for label in paths}
        for _ in range(args.repeats):
            for label, fn in paths.items():
                started = time.perf_counter()
                fn(x)
                times[label].append(time.perf_counter() - started)
    medians = {label: statistics.median(t) for label, t in times.items()}

    flops = conv_flops(baseline, x)
    peak_bf16 = conv_peak(torch.bfloat16, channels_last=True) if default.dtype == torch.bfloat16 else None
    peak_nchw = conv_peak(torch.float32, channels_last=False)
    peak_cl = conv_peak(torch.float32, channels_last=True)
    peak_fp32 = max(peak_nchw, peak_cl)  # the floor: the faster layout is this CPU's fp32 ceiling
    quality = {}
    if not args.no_quality and args.model == "edsr":
        from genedit_sr.evaluation import evaluate_upscaler, reference_images

        refs = reference_images("builtin:skimage-photos:heldout")
        for label, fn in paths.items():
            with torch.inference_mode():
                quality[label] = evaluate_upscaler(fn, refs, scale)["summary"]["psnr"]

    print(f"model        : {card} x{scale}")
    print(f"weights      : {described}")
    print(f"input        : 1×3×{side}×{side} -> {tuple(outputs['torch fp32 eager'].shape)}")
    print(f"work         : {flops / 1e9:.1f} GFLOP per pass (convs)")
    peaks = f"{peak_nchw:.0f} GFLOP/s fp32 NCHW, {peak_cl:.0f} fp32 channels_last" + (
        f", {peak_bf16:.0f} bf16 channels_last" if peak_bf16 else ""
    )
    print(f"conv peak    : {peaks} (torch, 64->64 3x3 on 256²)")
    for note in notes:
        print(note)
    ref_time, ref_out = medians["torch fp32 eager"], outputs["torch fp32 eager"]
    header = f"{'path':<18} {'runs':<19} {'median':>8} {'vs fp32':>8} {'GFLOP/s':>8} {'floor':>7} {'Y-PSNR vs fp32':>15}"
    if quality:
        header += f" {'held-out dB':>12}"
    print(header)
    for label, median in medians.items():
        gflops = flops / median / 1e9
        peak = peak_bf16 if ("bf16" in kinds[label] and peak_bf16) else peak_fp32
        floor = flops / (peak * 1e9)
        same = label == "torch fp32 eager"
        line = (
            f"{label:<18} {kinds[label]:<19} {median:>7.3f}s {ref_time / median:>7.2f}x {gflops:>8.0f} "
            f"{median / floor:>6.2f}x {'(itself)' if same else f'{agreement(outputs[label], ref_out):.2f} dB':>15}"
        )
        if quality:
            change = quality[label] - quality["torch fp32 eager"]
            line += f" {quality[label]:>7.3f} {'' if same else f'{change:+.3f}':>5}"
        print(line)
    print(
        "             (floor: median over the time the convs take at this CPU's conv peak for that precision)"
    )

    if args.processes:
        whole_processes(args, card, scale, weights, x, tmp, medians, ref_time, [*paths][2:], default)
    print(f"machine      : {load_line()} at the end")


def whole_processes(
    args: argparse.Namespace,
    card: str,
    scale: int,
    weights: str,
    x: torch.Tensor,
    tmp: Path,
    medians: dict[str, float],
    ref_time: float,
    converted: list[str],
    default: genedit_core.LoadedModel,
) -> None:
    """Whole ``genedit run upscale`` processes, the caches warm (the in-process loads filled them),
    interleaved; each against fp32 eager's in-process compute time (which pays no start-up at all).

    ``--backend auto`` runs too, after the medians above were recorded in its table (in this run's
    cache folder) as ``genedit bench --compare`` would: its line says which runtime it chose, and
    its time includes reading the table and finding the installed runtimes.
    """
    from PIL import Image

    from genedit_core.autobackend import record_backend_times

    # "normal": the normal path with its caches warm (GENEDIT_WARM=0: imports torch, builds the
    # model, imports the compiled program); "warm path": what a user's second process takes by
    # default, the cached program without torch (genedit_core.warm; benchmarks/warm_process.py
    # breaks its overhead down). The normal runs come first in each round and record the warm index.
    normal_env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "GENEDIT_WARM": "0"}
    warm_env = {k: v for k, v in normal_env.items() if k != "GENEDIT_WARM"}
    genedit = str(Path(sys.executable).with_name("genedit"))
    src = tmp / "input.png"
    Image.fromarray(to_uint8_range(x[0].numpy().transpose(1, 2, 0)).astype("uint8")).save(src)
    base_cmd = [
        genedit,
        "run",
        "upscale",
        "-m",
        card,
        "-s",
        str(scale),
        "--weights",
        weights,
        str(src),
        "--overwrite",
    ]
    # label -> (flags, env, times, paths the process said it took)
    runs: dict[str, tuple[list[str], dict[str, str], list[float], set[str]]] = {
        "genedit default": (["--backend", "torch"], normal_env, [], set())
    }
    for label in converted:
        backend = label.removesuffix(" f32")
        flags = ["--backend", backend] + (["--dtype", "fp32"] if label.endswith(" f32") else [])
        runs[label] = (flags, normal_env, [], set())
    at_auto = [label for label in converted if not label.endswith(" f32")]  # measured at dtype auto
    if at_auto:
        times_ms = {"torch": medians["genedit default"] * 1e3}
        times_ms.update({label: medians[label] * 1e3 for label in at_auto})
        record_backend_times(
            default.card, scale, "cpu", dtype_name(default.dtype), tuple(x.shape[-2:]), times_ms
        )
        runs["auto"] = (["--backend", "auto"], normal_env, [], set())
        for label in at_auto:
            runs[f"{label} warm"] = (["--backend", label], warm_env, [], set())
        runs["auto warm"] = (["--backend", "auto"], warm_env, [], set())
    runs[PEER] = ([], normal_env, [], set())  # the peer's own whole process, the same input
    chose: set[str] = set()
    for i in range(args.repeats):
        for j, (label, (flags, env, times, paths)) in enumerate(runs.items()):
            cmd = [genedit, "--verbose", *base_cmd[1:], *flags, "-o", str(tmp / f"p{j}-{i}.png")]
            if label == PEER:
                peer_weights = str(default.weights.path) if default.weights else weights
                cmd = [sys.executable, str(REPO / "benchmarks" / "peer_process.py"), peer_weights, str(src)]
                cmd += [str(tmp / f"p{j}-{i}.png"), "--arch", args.model, "--scale", str(scale)]
            took, err = whole_process(cmd, env)
            times.append(took)
            paths.update(m.group(1) for m in COMPUTED_PATH.finditer(err))
            if label.startswith("auto"):
                chose.update(
                    ln.split("backend auto -> ")[1].split(":")[0]
                    for ln in err.splitlines()
                    if "backend auto -> " in ln
                )
    ran = ",".join(sorted(chose)) or "?"
    peer = statistics.median(runs[PEER][2])
    for label, (_, _, times, paths) in runs.items():
        m = statistics.median(times)
        if label == PEER:
            print(f"process      : {label:<40} median {m:6.2f} s, {m - ref_time:5.2f} s of it not compute")
            continue
        base = label.removesuffix(" warm")
        name = f"auto (ran {ran})" if base == "auto" else base
        took = "/".join(sorted(paths)) or "path not logged"
        name += f" [{took}]" if label.endswith(" warm") or base != "genedit default" else ""
        compute = medians.get({"torch": "genedit default"}.get(ran, ran) if base == "auto" else base)
        spent = f"{m - compute:5.2f} s of it not compute" if compute is not None else "compute not known"
        vs_peer = f", {peer / m:5.2f}x the peer's process"
        print(
            f"process      : {name:<40} median {m:6.2f} s, {spent}; {ref_time / m:5.2f}x fp32 eager's compute"
            + vs_peer
        )


if __name__ == "__main__":
    main()
