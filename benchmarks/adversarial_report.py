"""The adversarial report: every class of bad input from issue 11, tried against the real CLI.

Each attack is built at run time in a fresh temporary folder (small files, weight-free or bundled
models, toy plugins installed as distributions on ``PYTHONPATH``) and run as ``genedit``
subprocesses whose ``HOME``, ``HF_HOME``, ``GENEDIT_CACHE_DIR`` and ``TMPDIR`` lie inside that
folder. What happened is then measured here, independently of the tests in ``tests/adversarial/``:

* tracebacks: a step whose stdout or stderr holds ``Traceback``;
* unexpected: an ``error: unexpected ...`` line, the last boundary catching a bug in genedit;
* wrong exit: exit code other than the one promised (non-zero where it must fail);
* wrong lines: a number of ``error:`` lines other than promised (one per bad file), or promised
  text missing from the output;
* partial outputs: a temporary file left (``*.part``, genedit's ``.NAME.genedit-PID.*``,
  huggingface_hub's ``*.incomplete``, a stale checkpoint folder) or an output file written for an
  input that failed;
* lost files: a file that existed before the attack (inputs, earlier outputs, run folders), gone
  or changed afterwards;
* escapes: a file created, changed, removed or renamed outside the attack's folder, or a planted
  file outside it read. Every subprocess carries a ``sitecustomize`` audit hook that logs those
  operations (it logs, it changes nothing), a sentinel folder next to the work folder is compared
  before and after, and so are genedit's and huggingface_hub's default cache folders;
* wrong results: what the class promises beyond the above (16-bit kept, the batch went on, the
  in-tree model kept its name, a bomb's peak memory under 300 MB above a plain run).

    .venv/bin/python benchmarks/adversarial_report.py [--json] [--quick] [--classes a,b] [--jobs 2]

Exit status 1 when any count is non-zero. The whole catalogue takes 2 to 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "adversarial"))

from helpers import write_distribution  # noqa: E402
from hub_emulator import HubEmulator  # noqa: E402

SR_WEIGHTS = REPO / "plugins/genedit-sr/genedit_sr/weights/espcn-x2.safetensors"
GiB = 1 << 30
BOMB_PEAK_ALLOWANCE_MB = 300

CLASSES: dict[str, str] = {
    "outputs": "Output locations",
    "plugins": "Plugin failures",
    "clashes": "Name clashes",
    "bombs": "Decompression bombs",
    "markup": "Markup injection",
    "hub-specs": "Hub specs",
    "depth": "Bit depth and orientation",
    "collisions": "Collisions",
    "garbage": "Garbage out",
    "training": "Training configs",
    "hub-pinning": "Unpinned Hub files",
    "interrupts": "Interrupts",
    "upfront": "Checked up front",
}
COUNTS = (
    "tracebacks",
    "unexpected",
    "wrong_exit",
    "wrong_lines",
    "partial",
    "lost",
    "escapes",
    "wrong_results",
)
HEADINGS = {
    "tracebacks": "tracebacks",
    "unexpected": "unexpected",
    "wrong_exit": "wrong exit",
    "wrong_lines": "wrong lines",
    "partial": "partial outputs",
    "lost": "lost files",
    "escapes": "escapes",
    "wrong_results": "wrong results",
}
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)

# genedit's temporary output (.NAME.genedit-PID.RANDOM.part), any *.part, huggingface_hub's
# *.incomplete and a checkpoint folder a killed save left (.step-000008.RANDOM)
TEMP_NAME = re.compile(r"(\.part|\.incomplete)$|^\..+\.genedit-\d+\.|^\.step-\d+\.")


# ---- the audit hook every genedit subprocess carries ------------------------------------------------
SITECUSTOMIZE = '''
"""Written by benchmarks/adversarial_report.py: log file writes (and reads of planted files)."""
import os
import sys

_log = os.environ.get("GENEDIT_REPORT_AUDIT_LOG")
if _log:
    _fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    _bait = os.environ.get("GENEDIT_REPORT_BAIT") or "\\0"
    _writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    _events = {  # event: (argument indexes of the paths it writes, argument indexes of its dir_fds)
        "os.mkdir": ((0,), (2,)), "os.rename": ((0, 1), (2, 3)), "os.replace": ((0, 1), (2, 3)),
        "os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.symlink": ((1,), (2,)),
        "os.link": ((1,), (2, 3)), "os.truncate": ((0,), ()), "os.utime": ((0,), (3,)),
        "os.chmod": ((0,), (2,)), "shutil.rmtree": ((0,), (1,)), "os.mkfifo": ((0,), (2,)),
    }

    def _note(kind, path):
        if isinstance(path, int):
            return
        try:
            path = os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(path)))
        except Exception:
            return
        if kind == "read" and not path.startswith(_bait):
            return
        os.write(_fd, (kind + "\\t" + path + "\\n").encode("utf-8", "surrogateescape"))

    def _hook(event, args):
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            write = flags & _writes if isinstance(flags, int) else any(c in (mode or "") for c in "wax+")
            _note("write" if write else "read", path)
        elif event in _events:
            paths, dir_fds = _events[event]
            if any(i < len(args) and isinstance(args[i], int) and args[i] != -1 for i in dir_fds):
                return  # relative to an open folder (rmtree's inner calls): its rmtree event was logged
            for i in paths:
                if i < len(args):
                    _note(event, args[i])

    sys.addaudithook(_hook)
'''

IGNORED_WRITES = ("/dev/null", "/dev/tty", "/dev/stdout", "/dev/stderr")


# ---- toy plugins, installed per attack as distributions -----------------------------------------------
_LOADED_IDENTITY = """
def _identity_model(request, scale=1):
    import torch
    from genedit_core.sdk import LoadedModel

    if scale == 1:
        return LoadedModel(card=request.card, module=None, forward=lambda x: x, device=request.device,
                           dtype=torch.float32)
    net = torch.nn.Upsample(scale_factor=scale, mode="nearest")
    return LoadedModel(card=request.card, module=net, forward=net, device=request.device,
                       dtype=request.dtype, scale=scale)
"""

PLUGINS: dict[str, tuple[str, str, str]] = {
    # entry point: (distribution, module, source)
    "fragile": (
        "genedit-adv-fragile",
        "genedit_adv_fragile",
        _LOADED_IDENTITY
        + """
import os
from genedit_core.sdk import ModelCard, hookimpl

MODE = os.environ.get("ADV_FRAGILE", "")
calls = [0]

@hookimpl
def register_models(register):
    register(ModelCard(name="fragile", tasks=("retouch",), family="test", summary="raises on purpose",
                       needs_weights=False))

@hookimpl
def load_model(request):
    if MODE == "load":
        raise AttributeError("'NoneType' object has no attribute 'shape'")
    return _identity_model(request)

@hookimpl
def edit(request):
    calls[0] += 1
    if calls[0] == 2:
        if MODE == "value":
            raise ValueError("bad value")
        if MODE == "exit":
            raise SystemExit(3)
        if MODE == "key":
            raise KeyError("missing")
    return request.tiler(request.model, request.image)
""",
    ),
    "quitter": ("genedit-adv-quitter", "genedit_adv_quitter", "import sys\nsys.exit(3)\n"),
    "broken": (
        "genedit-adv-broken",
        "genedit_adv_broken",
        "raise RuntimeError('this plugin is broken on purpose')\n",
    ),
    "acme": (
        "acme-sr",
        "genedit_adv_acme",
        _LOADED_IDENTITY
        + """
from genedit_core.sdk import ModelCard, hookimpl

@hookimpl
def register_models(register):
    for name in ("espcn", "acme-up"):
        register(ModelCard(name=name, tasks=("upscale",), family="toy", scales=(2,), needs_weights=False,
                           summary="nearest-neighbour x2 from a third party"))

@hookimpl
def load_model(request):
    return _identity_model(request, scale=2)

@hookimpl
def edit(request):
    return request.tiler(request.model, request.image)
""",
    ),
    "mk": (
        "genedit-adv-markup",
        "genedit_adv_markup",
        _LOADED_IDENTITY
        + """
import os
from genedit_core.sdk import ModelCard, UsageError, WeightFile, WeightVariant, hookimpl

HOSTILE = "[/x] pip install 'genedit-compress[onnx]' [bold]B[/bold] [red]"

@hookimpl
def register_models(register):
    variant = WeightVariant(name="v[/x]", files={2: WeightFile("w[bold].safetensors")}, package="nowhere",
                            licence="[dim]")
    register(ModelCard(name="mk", tasks=("upscale",), family="toy", summary=HOSTILE, scales=(2,),
                       variants=(variant,), default_variant=variant.name, needs_weights=False,
                       paper="https://example.org/[/p]"))

@hookimpl
def load_model(request):
    return _identity_model(request, scale=2)

@hookimpl
def edit(request):
    hint = os.environ.get("ADV_MARKUP_HINT")
    if hint:
        raise UsageError(hint)
    return request.tiler(request.model, request.image)
""",
    ),
    "junk": (
        "genedit-adv-junk",
        "genedit_adv_junk",
        _LOADED_IDENTITY
        + """
import os
from genedit_core.sdk import ModelCard, hookimpl

MODE = os.environ.get("ADV_JUNK", "")

@hookimpl
def register_models(register):
    register(ModelCard(name="junk", tasks=("upscale", "generate"), family="toy", scales=(2,),
                       needs_weights=False, summary="returns garbage on purpose"))

@hookimpl
def load_model(request):
    return _identity_model(request, scale=2)

@hookimpl
def edit(request):
    x = request.image
    if x.shape[-1] != 7:  # only the 7-pixel-wide input gets garbage; the others a correct x2
        return request.tiler(request.model, x)
    if MODE == "same-size":
        return x.clone()
    if MODE == "five-channels":
        import torch
        return torch.zeros(1, 5, x.shape[-2] * 2, x.shape[-1] * 2)
    raise AssertionError(MODE)

@hookimpl
def generate(request):
    import torch
    n = len(request.seeds)
    if MODE == "nan":
        return torch.full((n, 3, 8, 8), float("nan"))
    return torch.zeros(n - 1, 3, 8, 8)
""",
    ),
    "slow": (
        "genedit-adv-slow",
        "genedit_adv_slow",
        _LOADED_IDENTITY
        + """
import os
import time
from genedit_core.sdk import ModelCard, hookimpl

WHERE, MARKER = os.environ.get("ADV_SLOW_AT", ""), os.environ.get("ADV_MARKER", "")
calls = {"edit": 0, "encode": 0}

def _pause(kind):
    calls[kind] += 1
    if kind == WHERE and calls[kind] == 2:
        open(MARKER, "w").close()
        time.sleep(120)

if WHERE == "encode":  # after the second output's temporary file is complete, before it is renamed
    import genedit_core.images as _images

    _real_encode = _images._encode

    def _encode(tmp, *args, **kwargs):
        _real_encode(tmp, *args, **kwargs)
        _pause("encode")

    _images._encode = _encode

@hookimpl
def register_models(register):
    register(ModelCard(name="slow", tasks=("retouch",), family="test", summary="pauses",
                       needs_weights=False))

@hookimpl
def load_model(request):
    return _identity_model(request)

@hookimpl
def edit(request):
    _pause("edit")
    return request.tiler(request.model, request.image)
""",
    ),
    "tinytrain": (
        "genedit-adv-train",
        "genedit_adv_train",
        """
from genedit_core.sdk import ModelCard, hookimpl

@hookimpl
def register_models(register):
    for name in ("tiny", "other"):
        register(ModelCard(name=name, tasks=("upscale",), family="toy", scales=(2,), needs_weights=False,
                           summary="a tiny trainable net"))

@hookimpl
def train(request):
    from _tiny_task import TinyTask  # tests/_tiny_task.py
    from torch import nn

    class WidthTask(TinyTask):
        name = request.card.name

        def __init__(self):
            super().__init__()
            self.default_config = {**self.default_config, "model": {"width": 4}}

        def build_networks(self, cfg):
            w = int(cfg["model"]["width"])
            return {"net": nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.Tanh(),
                                         nn.Conv2d(w, 1, 3, padding=1))}

    return WidthTask()
""",
    ),
}


# ---- the catalogue ----------------------------------------------------------------------------------------
@dataclass
class Step:
    """One ``genedit`` invocation and what it promises."""

    args: tuple[str, ...]
    expect: int
    _: KW_ONLY
    errors: int | None = None  # how many "error:" lines; None: not promised
    says: tuple[str, ...] = ()  # text that must appear in stdout or stderr
    never: tuple[str, ...] = ()  # text that must not appear there
    env: dict[str, str] = field(default_factory=dict)
    setup: bool = False  # builds the attack (must succeed); pre-existing files are counted after it
    before: Callable[[], None] | None = None
    interrupt: tuple[Path, int] | None = None  # (marker file, signal): sent once the marker exists
    timeout: float = 90.0


def fails(args: tuple[str, ...], expect: int, *says: str, **kw: Any) -> Step:
    """The commonest promise: exit ``expect`` with exactly one ``error:`` line, every ``says`` shown."""
    return Step(args, expect, errors=1, says=says, **kw)


@dataclass
class Attack:
    cls: str
    name: str
    build: Callable[[Ctx], list[Step]]


CATALOGUE: list[Attack] = []


def attack(cls: str, name: str) -> Callable[[Callable[[Ctx], list[Step]]], Callable[[Ctx], list[Step]]]:
    def register(build: Callable[[Ctx], list[Step]]) -> Callable[[Ctx], list[Step]]:
        CATALOGUE.append(Attack(cls, name, build))
        return build

    return register


class Ctx:
    """One attack's folder: ``work`` (the current folder), ``home`` (HOME, caches, TMPDIR), ``outside``
    (a sentinel that nothing may touch), ``site`` (toy plugin distributions)."""

    def __init__(self, root: Path, audit_dir: Path):
        self.root = root
        self.work, self.home, self.outside, self.site = (
            root / n for n in ("work", "home", "outside", "site")
        )
        for folder in (self.work, self.home / "tmp", self.outside, self.site):
            folder.mkdir(parents=True)
        (self.outside / "planted.txt").write_text("nothing may read or change this\n")
        self.audit_dir = audit_dir
        self.audit_log = root / "audit.log"
        self.plugins = ["sr"]
        self.extra_path: list[str] = []
        self.hub: HubEmulator | None = None
        self.hf_endpoint = f"http://127.0.0.1:{_closed_port()}"
        self.forbidden: list[str] = []
        self.mutable: list[str] = []
        self.checks: list[Callable[[], list[str]]] = []
        self.peaks: list[float] = []

    # what an attack declares
    def install(self, *names: str) -> None:
        for name in names:
            dist, module, source = PLUGINS[name]
            write_distribution(self.site, dist, "1.0", {name: module}, {module: source})
            self.plugins.append(name)
        if "tinytrain" in names:
            self.extra_path.append(str(TESTS))

    def forbid(self, *globs: str) -> None:
        """Outputs that must not exist afterwards (those of inputs that failed)."""
        self.forbidden.extend(globs)

    def may_change(self, *globs: str) -> None:
        """Pre-existing files this attack may legitimately change (a resumed run folder)."""
        self.mutable.extend(globs)

    def check(self, fn: Callable[[], list[str]]) -> None:
        self.checks.append(fn)

    def start_hub(self) -> HubEmulator:
        self.hub = HubEmulator().start()
        self.hf_endpoint = self.hub.url
        return self.hub

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GENEDIT_", "HF_", "XDG_", "PYTHON", "TRANSFORMERS_"))
        }
        env.update(
            HOME=str(self.home),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            TMPDIR=str(self.home / "tmp"),
            HF_HOME=str(self.home / "hf"),
            HF_HUB_CACHE=str(self.home / "hf" / "hub"),
            GENEDIT_CACHE_DIR=str(self.home / "genedit-cache"),
            HF_ENDPOINT=self.hf_endpoint,
            HF_HUB_DISABLE_XET="1",
            HF_HUB_DISABLE_PROGRESS_BARS="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            COLUMNS="200",
            OMP_NUM_THREADS="1",
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONPATH=os.pathsep.join([str(self.audit_dir), str(self.site), *self.extra_path]),
            GENEDIT_LOAD_PLUGINS=",".join(self.plugins),
            GENEDIT_REPORT_AUDIT_LOG=str(self.audit_log),
            GENEDIT_REPORT_BAIT=str(self.outside),
        )
        env.update(extra)
        return env


def _closed_port() -> int:
    """A local port nothing listens on: the Hub is 'offline' unless an attack starts the emulator."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- small builders -----------------------------------------------------------------------------------
def png(path: Path, w: int = 6, h: int = 4, seed: int = 0) -> Path:
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def png16(path: Path, arr, orientation: int | None = None) -> Path:
    """A 16-bit PNG (pypng), with an ``eXIf`` Orientation chunk when asked."""
    import io

    import png as pypng
    from PIL import Image

    h, w, c = arr.shape
    buf = io.BytesIO()
    pypng.Writer(w, h, greyscale=False, alpha=c == 4, bitdepth=16).write(buf, arr.reshape(h, w * c))
    chunks = list(pypng.Reader(bytes=buf.getvalue()).chunks())
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        chunks.insert(1, (b"eXIf", exif.tobytes()[6:]))
    with open(path, "wb") as f:
        pypng.write_chunks(f, chunks)
    return path


def read16(path: Path):
    import numpy as np

    if path.suffix == ".png":
        import png as pypng

        w, h, rows, info = pypng.Reader(filename=str(path)).asDirect()
        if info["bitdepth"] != 16:
            raise ValueError(f"{path.name} is {info['bitdepth']}-bit")
        return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])
    import tifffile

    arr = tifffile.imread(path)
    if arr.dtype != np.uint16:
        raise ValueError(f"{path.name} is {arr.dtype}")
    return arr


def read8(path: Path):
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def nearest2(arr):
    return arr.repeat(2, 0).repeat(2, 1)


def espcn_bytes(change: Callable | None = None) -> bytes:
    """ESPCN x2's bundled weights, with ``change(state)`` applied (a NaN, a tampered bias)."""
    from safetensors.numpy import load, save

    state = {k: v.copy() for k, v in load(SR_WEIGHTS.read_bytes()).items()}
    if change is not None:
        change(state)
    return save(state)


def exists(ctx: Ctx, *rel: str) -> list[str]:
    return [f"{r} was not written" for r in rel if not (ctx.work / r).is_file()]


# ---- 1. output locations ------------------------------------------------------------------------------
@attack("outputs", "--out-dir is a file (2 inputs)")
def _out_dir_file(ctx: Ctx) -> list[Step]:
    for i in range(2):
        png(ctx.work / "in" / f"{i}.png", seed=i)
    (ctx.work / "afile").write_text("not a folder")
    return [
        Step(
            ("run", "upscale", "-m", "bicubic", "in", "--out-dir", "afile"),
            1,
            errors=2,
            says=("afile is a file, not a folder",),
        )
    ]


@attack("outputs", "--out-dir under a file")
def _out_dir_under_file(ctx: Ctx) -> list[Step]:
    for i in range(2):
        png(ctx.work / "in" / f"{i}.png", seed=i)
    (ctx.work / "afile").write_text("not a folder")
    return [Step(("run", "upscale", "-m", "bicubic", "in", "--out-dir", "afile/sub"), 1, errors=2)]


@attack("outputs", "a folder has the output's name; a 260-byte name; good files around them")
def _bad_names_in_batch(ctx: Ctx) -> list[Step]:
    long_stem = "n" * 245
    for i, stem in enumerate(("a", long_stem, "c", "d")):
        png(ctx.work / "in" / f"{stem}.png", seed=i)
    (ctx.work / "results" / "c_bicubic_x2.png").mkdir(parents=True)
    ctx.forbid(f"results/{long_stem}*")
    ctx.check(lambda: exists(ctx, "results/a_bicubic_x2.png", "results/d_bicubic_x2.png"))
    return [
        Step(
            ("run", "upscale", "-m", "bicubic", "in"),
            1,
            errors=2,
            says=("File name too long", "a folder has this name"),
        )
    ]


@attack("outputs", "train --out under a file")
def _train_out_under_file(ctx: Ctx) -> list[Step]:
    ctx.install("tinytrain")
    (ctx.work / "runs").write_text("a file")
    return [fails(("train", "tiny", "--out", "runs/x", "-q"), 1, "runs is a file")]


@attack("outputs", "generate into a folder under a file")
def _generate_under_file(ctx: Ctx) -> list[Step]:
    ctx.plugins.append("gan")
    (ctx.work / "out").write_text("x")
    return [Step(("generate", "dcgan", "--seeds", "1-2", "--out-dir", "out/d"), 1, errors=1)]


# ---- 2. plugin failures -------------------------------------------------------------------------------
def _fragile(
    ctx: Ctx,
    mode: str,
    says: str,
    forbid: str = "results/1_*",
    written: tuple[str, ...] = ("results/2_fragile_retouch.png",),
) -> list[Step]:
    """The 'fragile' plugin fails as ``mode`` says on a batch of three: one error line, the rest done."""
    ctx.install("fragile")
    for i in range(3):
        png(ctx.work / "in" / f"{i}.png", seed=i)
    ctx.forbid(forbid)
    if written:
        ctx.check(lambda: exists(ctx, *written))
    run = ("run", "retouch", "-m", "fragile", "in")
    return [fails(run, 1, says, env={"ADV_FRAGILE": mode})]


@attack("plugins", "edit raises ValueError on file 2 of 3")
def _edit_value_error(ctx: Ctx) -> list[Step]:
    says = "in/1.png: plugin 'fragile' failed in its edit hook for model 'fragile': ValueError"
    both = ("results/0_fragile_retouch.png", "results/2_fragile_retouch.png")
    return _fragile(ctx, "value", says, written=both)


@attack("plugins", "edit raises KeyError on file 2 of 3")
def _edit_key_error(ctx: Ctx) -> list[Step]:
    return _fragile(ctx, "key", "KeyError")


@attack("plugins", "edit calls sys.exit(3) on file 2 of 3")
def _edit_sys_exit(ctx: Ctx) -> list[Step]:
    return _fragile(ctx, "exit", "SystemExit: 3")


@attack("plugins", "load_model raises AttributeError")
def _load_error(ctx: Ctx) -> list[Step]:
    return _fragile(ctx, "load", "failed in its load_model hook", forbid="results/*", written=())


@attack("plugins", "a plugin calls sys.exit at import: list, --help, run")
def _sys_exit_at_import(ctx: Ctx) -> list[Step]:
    ctx.install("quitter")
    png(ctx.work / "a.png")
    ctx.check(lambda: exists(ctx, "results/a_bicubic_x2.png"))
    return [
        Step(("list",), 0, errors=0, says=("bicubic",)),
        Step(("--help",), 0, errors=0),
        Step(("run", "upscale", "-m", "bicubic", "a.png", "-q"), 0, errors=0),
    ]


# ---- 3. name clashes ----------------------------------------------------------------------------------
@attack("clashes", "a third-party plugin loaded first registers 'espcn'")
def _third_party_espcn(ctx: Ctx) -> list[Step]:
    ctx.install("acme")
    png(ctx.work / "a.png", w=8, h=6, seed=3)

    def outputs() -> list[str]:
        problems = exists(ctx, "o1/a_bicubic_x2.png", "o2/a_espcn_x2.png", "o3/a_espcn_x2.png")
        if problems:
            return problems
        near = nearest2(read8(ctx.work / "a.png"))
        if (read8(ctx.work / "o2/a_espcn_x2.png") == near).all():
            problems.append("-m espcn ran the third party's model, not genedit-sr's")
        if not (read8(ctx.work / "o3/a_espcn_x2.png") == near).all():
            problems.append("-m acme:espcn did not run the third party's model")
        return problems

    ctx.check(outputs)
    run = ("run", "upscale", "a.png", "-q", "-m")
    return [
        Step((*run, "bicubic", "--out-dir", "o1"), 0, errors=0),
        Step((*run, "espcn", "--out-dir", "o2"), 0, errors=0),
        Step((*run, "acme:espcn", "--out-dir", "o3"), 0, errors=0),
        Step(("list", "--wide"), 0, errors=0, says=("acme-up",)),
    ]


@attack("clashes", "a model whose plugin failed to load")
def _model_of_failed_plugin(ctx: Ctx) -> list[Step]:
    ctx.install("broken")
    png(ctx.work / "a.png")
    ctx.forbid("results/*")
    return [
        fails(("run", "upscale", "-m", "brokenmodel", "a.png"), 2, "'broken' failed to load"),
        Step(("plugins", "--json"), 0, errors=0, says=("RuntimeError: this plugin is broken on purpose",)),
    ]


# ---- 4. decompression bombs ---------------------------------------------------------------------------
def _bomb(ctx: Ctx, name: str, data: bytes, needle: str) -> list[Step]:
    (ctx.work / name).write_bytes(data)
    png(ctx.work / "good.png")
    ctx.forbid(f"out/{Path(name).stem}_*")
    ctx.check(lambda: exists(ctx, "out/good_bicubic_x2.png"))
    ctx.check(lambda: _peak_ok(ctx))
    return [
        fails(
            ("run", "upscale", "-m", "bicubic", name, "good.png", "--out-dir", "out", "-q"),
            1,
            f"error: {name}: ",
            needle,
            "decompression bomb",
        )
    ]


_BASELINE: dict[str, float] = {}
_BASELINE_LOCK = threading.Lock()


def _peak_ok(ctx: Ctx) -> list[str]:
    """A bomb costs less than 300 MB above a plain run on a tiny image (measured once per report)."""
    with _BASELINE_LOCK:
        if "mb" not in _BASELINE:
            _BASELINE["mb"] = _measure_baseline(ctx.audit_dir)
    peak = max(ctx.peaks, default=0.0)
    if peak - _BASELINE["mb"] > BOMB_PEAK_ALLOWANCE_MB:
        return [f"peak {peak:.0f} MB, {peak - _BASELINE['mb']:.0f} MB above a plain run"]
    return []


def _measure_baseline(audit_dir: Path) -> float:
    root = Path(tempfile.mkdtemp(prefix="genedit-adv-baseline-"))
    try:
        ctx = Ctx(root, audit_dir)
        png(ctx.work / "tiny.png")
        result = run_step(ctx, Step(("run", "upscale", "-m", "bicubic", "tiny.png", "-q"), 0))
        return result.peak_mb
    finally:
        shutil.rmtree(root, ignore_errors=True)


@attack("bombs", "planar 16-bit TIFF, 3 x 14000 x 14000 in 330 KB")
def _bomb_planar(ctx: Ctx) -> list[Step]:
    from test_image_bombs import tiff_file

    row = zlib.compress(bytes(14000 * 2))
    data = tiff_file(14000, 14000, row, count=3 * 14000, rows_per_strip=1, planar=True)
    return _bomb(ctx, "planar.tif", data, "pixels exceeds the limit")


@attack("bombs", "16-bit PNG whose ICC profile inflates to 1 GiB")
def _bomb_icc(ctx: Ctx) -> list[Step]:
    from test_image_bombs import png_file, zeros_zlib

    data = png_file(4, 4, extra=((b"iCCP", b"icc\x00\x00" + zeros_zlib(GiB)),))
    return _bomb(ctx, "icc.png", data, "ICC profile")


@attack("bombs", "8-bit PNG whose XMP (iTXt) inflates to 1 GiB")
def _bomb_xmp(ctx: Ctx) -> list[Step]:
    from test_image_bombs import png_file, zeros_zlib

    xmp = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zeros_zlib(GiB)
    return _bomb(ctx, "xmp.png", png_file(4, 4, bit_depth=8, extra=((b"iTXt", xmp),)), "iTXt")


@attack("bombs", "16-bit TIFF whose one strip inflates to 1 GiB")
def _bomb_strip(ctx: Ctx) -> list[Step]:
    from test_image_bombs import tiff_file, zeros_zlib

    return _bomb(ctx, "strip.tif", tiff_file(64, 64, zeros_zlib(GiB)), "inflates beyond")


@attack("bombs", "JPEG whose header declares 65000 x 65000")
def _bomb_jpeg(ctx: Ctx) -> list[Step]:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="JPEG")
    data = buf.getvalue()
    sof = data.index(b"\xff\xc0") + 5
    data = data[:sof] + struct.pack(">HH", 65000, 65000) + data[sof + 4 :]
    return _bomb(ctx, "huge.jpg", data, "pixels exceeds the limit")


# ---- 5. markup injection ------------------------------------------------------------------------------
HOSTILE = "[/x] pip install 'genedit-compress[onnx]' [bold]B[/bold] [red]"


@attack("markup", "--weights hf:// (the hint holds [/file][@revision])")
def _markup_hub_hint(ctx: Ctx) -> list[Step]:
    png(ctx.work / "x.png")
    return [
        fails(
            ("run", "upscale", "-m", "bicubic", "--weights", "hf://", "x.png"),
            2,
            "expected hf://owner/repo[/file][@revision]",
        )
    ]


@attack("markup", "input and output paths with [/x] and [bold]")
def _markup_paths(ctx: Ctx) -> list[Step]:
    png(ctx.work / "in[" / "x].png")
    ctx.check(lambda: exists(ctx, "out[/[bold]y]/x]_bicubic_x2.png"))
    return [
        Step(
            ("run", "upscale", "-m", "bicubic", "in[/x].png", "--out-dir", "out[/[bold]y]"),
            0,
            errors=0,
            says=("in[/x].png -> out[/[bold]y]/x]_bicubic_x2.png",),
        )
    ]


@attack("markup", "a plugin's usage hint: pip install 'genedit-compress[onnx]' [/x]")
def _markup_plugin_hint(ctx: Ctx) -> list[Step]:
    ctx.install("mk")
    png(ctx.work / "a.png")
    hint = "exporting needs the onnx extra: pip install 'genedit-compress[onnx]' [/x]"
    ctx.forbid("results/*")
    return [
        fails(("run", "upscale", "-m", "mk", "a.png"), 2, f"error: {hint}", env={"ADV_MARKUP_HINT": hint})
    ]


@attack("markup", "a card whose summary, variant and URL hold markup")
def _markup_card(ctx: Ctx) -> list[Step]:
    ctx.install("mk")
    return [Step(("info", "mk"), 0, errors=0, says=(HOSTILE, "v[/x]", "https://example.org/[/p]"))]


@attack("markup", "file names holding a newline + 'error:' and an ESC colour sequence")
def _markup_control_characters(ctx: Ctx) -> list[Step]:
    (ctx.work / "nl\nerror: forged.png").write_bytes(b"not an image")
    png(ctx.work / "esc\x1b[31mred.png")
    ctx.forbid("out/nl*")
    ctx.check(lambda: exists(ctx, "out/esc\x1b[31mred_bicubic_x2.png"))
    args = (
        "run",
        "upscale",
        "-m",
        "bicubic",
        "nl\nerror: forged.png",
        "esc\x1b[31mred.png",
        "--out-dir",
        "out",
    )
    return [fails(args, 1, "error: nl\\nerror: forged.png: cannot read image", never=("\x1b",))]


# ---- 6. hub specs -------------------------------------------------------------------------------------
# The HF cache is home/hf/hub; its refs/, blobs/ and snapshots/ folders lie five levels below the
# attack's root, so "../" * 5 + "outside/..." aims at the sentinel folder.
UP5 = "../" * 5


@attack("hub-specs", "offline, a revision with '..' pointing at a planted commit file")
def _hub_dotdot_offline(ctx: Ctx) -> list[Step]:
    (ctx.outside / "secret").write_text("0123456789abcdef0123456789abcdef01234567")
    png(ctx.work / "a.png")
    ctx.forbid("results/*")
    spec = f"hf://o/r/w.safetensors@{UP5}outside/secret"
    return [
        fails(
            ("run", "upscale", "-m", "espcn", "--weights", spec, "a.png"),
            2,
            "contains '..'",
            env={"HF_HUB_OFFLINE": "1"},
        )
    ]


@attack("hub-specs", "a mirror that answers a '..' revision")
def _hub_dotdot_mirror(ctx: Ctx) -> list[Step]:
    hub = ctx.start_hub()
    revision = f"{UP5}outside/escaped-ref"
    hub.add_commit("o/r", {"w.safetensors": espcn_bytes()}, revision=revision)
    ctx.check(lambda: [f"{len(hub.requests())} request(s) reached the mirror"] if hub.requests() else [])
    return [fails(("pull", f"hf://o/r/w.safetensors@{revision}"), 2, "contains '..'")]


@attack("hub-specs", "a file path with '..' segments")
def _hub_dotdot_file(ctx: Ctx) -> list[Step]:
    ctx.start_hub()
    return [fails(("pull", f"hf://o/r/{UP5}outside/planted.txt"), 2, "'..' segment")]


def _hostile_header(ctx: Ctx, header: str, value: str, needle: str) -> list[Step]:
    hub = ctx.start_hub()
    hub.add_commit("o/r", {"w.safetensors": espcn_bytes()})
    hub.header_overrides = {header: value}
    ctx.check(lambda: ["the file was downloaded"] if hub.downloads("w.safetensors") else [])
    return [fails(("pull", "hf://o/r/w.safetensors"), 1, needle, "refused")]


@attack("hub-specs", "a mirror whose X-Repo-Commit is a path")
def _hub_commit_header(ctx: Ctx) -> list[Step]:
    return _hostile_header(ctx, "X-Repo-Commit", f"{UP5}outside/escaped-commit", "not a 40-hex")


@attack("hub-specs", "a mirror whose ETag is a path")
def _hub_etag_header(ctx: Ctx) -> list[Step]:
    return _hostile_header(ctx, "X-Linked-Etag", f'"{UP5}outside/escaped-blob"', "ETag")


# ---- 7. bit depth and orientation ---------------------------------------------------------------------
def _same16(ctx: Ctx, a: str, b: str) -> list[str]:
    import numpy as np

    try:
        x, y = read16(ctx.work / "out" / a), read16(ctx.work / "out" / b)
    except (OSError, ValueError) as exc:
        return [str(exc)]
    return [] if np.array_equal(x, y) else [f"{a} differs from {b}"]


def _shown16():
    import numpy as np

    return np.random.default_rng(7).integers(0, 65536, (6, 10, 3), dtype=np.uint16)


@attack("depth", "planar 16-bit RGB TIFF")
def _planar16(ctx: Ctx) -> list[Step]:
    import numpy as np
    import tifffile

    shown = _shown16()
    tifffile.imwrite(
        ctx.work / "planar.tif", np.moveaxis(shown, -1, 0), photometric="rgb", planarconfig="separate"
    )
    tifffile.imwrite(ctx.work / "contig.tif", shown, photometric="rgb")
    ctx.check(lambda: _same16(ctx, "planar_bicubic_x2.tif", "contig_bicubic_x2.tif"))
    args = ("run", "upscale", "-m", "bicubic", "planar.tif", "contig.tif", "--out-dir", "out", "-q")
    return [Step(args, 0, errors=0)]


@attack("depth", "16-bit PNG turned by an eXIf Orientation")
def _exif16(ctx: Ctx) -> list[Step]:
    import numpy as np

    shown = _shown16()
    png16(ctx.work / "exif.png", np.rot90(shown, 1), orientation=6)
    png16(ctx.work / "upright.png", shown)
    ctx.check(lambda: _same16(ctx, "exif_bicubic_x2.png", "upright_bicubic_x2.png"))
    args = ("run", "upscale", "-m", "bicubic", "exif.png", "upright.png", "--out-dir", "out", "-q")
    return [Step(args, 0, errors=0)]


@attack("depth", "16-bit TIFF turned by its Orientation tag")
def _tiff_orientation(ctx: Ctx) -> list[Step]:
    import tifffile

    shown = _shown16()
    tifffile.imwrite(
        ctx.work / "turned.tif", shown[::-1, ::-1], photometric="rgb", extratags=[(274, 3, 1, 3, True)]
    )
    tifffile.imwrite(ctx.work / "plain.tif", shown, photometric="rgb")
    ctx.check(lambda: _same16(ctx, "turned_bicubic_x2.tif", "plain_bicubic_x2.tif"))
    args = ("run", "upscale", "-m", "bicubic", "turned.tif", "plain.tif", "--out-dir", "out", "-q")
    return [Step(args, 0, errors=0)]


@attack("depth", "16-bit PNG written as JPEG")
def _sixteen_to_jpeg(ctx: Ctx) -> list[Step]:
    png16(ctx.work / "deep.png", _shown16())
    ctx.check(lambda: exists(ctx, "out/deep_bicubic_x2.jpg"))
    args = ("run", "upscale", "-m", "bicubic", "deep.png", "--out-dir", "out", "--ext", "jpg", "-q")
    return [Step(args, 0, errors=0, says=("warning: out/deep_bicubic_x2.jpg: JPEG holds 8 bits",))]


# ---- 8. collisions ------------------------------------------------------------------------------------
@attack("collisions", "p.png and p.jpg with --ext png")
def _collide_suffix(ctx: Ctx) -> list[Step]:
    from PIL import Image

    png(ctx.work / "p.png", seed=1)
    Image.open(png(ctx.work / "q.png", seed=2)).save(ctx.work / "p.jpg")
    ctx.forbid("results")
    return [
        fails(("run", "upscale", "-m", "bicubic", "p.png", "p.jpg", "--ext", "png"), 2, "p.png and p.jpg")
    ]


@attack("collisions", "x/a.png and y/a.png named one by one")
def _collide_folders(ctx: Ctx) -> list[Step]:
    png(ctx.work / "x" / "a.png", seed=3)
    png(ctx.work / "y" / "a.png", seed=4)
    ctx.forbid("results")
    return [fails(("run", "upscale", "-m", "bicubic", "x/a.png", "y/a.png"), 2, "x/a.png and y/a.png")]


@attack("collisions", "an existing output, no --overwrite")
def _existing_output(ctx: Ctx) -> list[Step]:
    for i, name in enumerate("abc"):
        png(ctx.work / "in" / f"{name}.png", seed=i)
    (ctx.work / "results").mkdir()
    (ctx.work / "results" / "b_bicubic_x2.png").write_bytes(b"precious")
    ctx.check(lambda: exists(ctx, "results/a_bicubic_x2.png", "results/c_bicubic_x2.png"))
    return [fails(("run", "upscale", "-m", "bicubic", "in"), 1, "--overwrite or --skip-existing")]


@attack("collisions", "--recursive with one name in two folders")
def _recursive_same_names(ctx: Ctx) -> list[Step]:
    png(ctx.work / "in" / "a" / "x.png", seed=1)
    png(ctx.work / "in" / "b" / "x.png", seed=2)
    ctx.check(lambda: exists(ctx, "results/a/x_bicubic_x2.png", "results/b/x_bicubic_x2.png"))
    return [Step(("run", "upscale", "-m", "bicubic", "in", "--recursive", "-q"), 0, errors=0)]


@attack("collisions", "a rerun with --skip-existing after a partial batch")
def _skip_existing(ctx: Ctx) -> list[Step]:
    for i, name in enumerate("abc"):
        png(ctx.work / "in" / f"{name}.png", seed=i)
    ctx.check(lambda: exists(ctx, "results/c_bicubic_x2.png"))
    return [
        Step(("run", "upscale", "-m", "bicubic", "in/a.png", "in/b.png", "-q"), 0, setup=True),
        Step(("run", "upscale", "-m", "bicubic", "in", "--skip-existing"), 0, errors=0, says=("2 skipped",)),
    ]


@attack("collisions", "an existing output that links to a file outside, with --overwrite")
def _overwrite_link(ctx: Ctx) -> list[Step]:
    png(ctx.work / "a.png")
    (ctx.work / "results").mkdir()
    (ctx.work / "results" / "a_bicubic_x2.png").symlink_to(ctx.outside / "planted.txt")
    ctx.may_change("results/a_bicubic_x2.png")  # --overwrite replaces the link itself, never its target
    ctx.check(lambda: [] if (ctx.work / "results/a_bicubic_x2.png").is_file() else ["no output"])
    return [
        fails(("run", "upscale", "-m", "bicubic", "a.png"), 1, "exists"),
        Step(("run", "upscale", "-m", "bicubic", "a.png", "--overwrite", "-q"), 0, errors=0),
    ]


# ---- 9. garbage out -----------------------------------------------------------------------------------
def _broken_espcn(ctx: Ctx, value: float) -> list[Step]:
    def poison(state: dict) -> None:
        state["conv3.bias"][0] = value

    (ctx.work / "w.safetensors").write_bytes(espcn_bytes(poison))
    png(ctx.work / "a.png", w=16, h=12, seed=1)
    png(ctx.work / "b.png", w=10, h=8, seed=2)
    ctx.forbid("out/*")
    args = ("run", "upscale", "-m", "espcn", "--weights", "w.safetensors", "--dtype", "fp32")
    return [Step((*args, "a.png", "b.png", "--out-dir", "out", "-q"), 1, errors=2, says=("NaN or infinite",))]


@attack("garbage", "ESPCN weights holding a NaN")
def _nan_weights(ctx: Ctx) -> list[Step]:
    return _broken_espcn(ctx, float("nan"))


@attack("garbage", "ESPCN weights holding an inf")
def _inf_weights(ctx: Ctx) -> list[Step]:
    return _broken_espcn(ctx, float("inf"))


def _junk_edit(ctx: Ctx, mode: str, needle: str) -> list[Step]:
    ctx.install("junk")
    png(ctx.work / "bad.png", w=7, h=6, seed=1)
    png(ctx.work / "good.png", w=9, h=6, seed=2)
    ctx.forbid("out/bad_*")
    ctx.check(lambda: exists(ctx, "out/good_junk_x2.png"))
    args = ("run", "upscale", "-m", "junk", "bad.png", "good.png", "--out-dir", "out", "-q")
    return [fails(args, 1, needle, env={"ADV_JUNK": mode})]


@attack("garbage", "a plugin returns the input size for x2")
def _junk_same_size(ctx: Ctx) -> list[Step]:
    return _junk_edit(ctx, "same-size", "where x2 of the input is 14×12")


@attack("garbage", "a plugin returns 5 channels")
def _junk_channels(ctx: Ctx) -> list[Step]:
    return _junk_edit(ctx, "five-channels", "returned 5 channels")


@attack("garbage", "generate returns NaN")
def _junk_generate_nan(ctx: Ctx) -> list[Step]:
    ctx.install("junk")
    ctx.forbid("gen/*")
    args = ("generate", "junk", "--seeds", "0-2", "--grid", "--out-dir", "gen")
    return [fails(args, 1, "NaN or infinite", env={"ADV_JUNK": "nan"})]


@attack("garbage", "generate returns one image too few")
def _junk_generate_few(ctx: Ctx) -> list[Step]:
    ctx.install("junk")
    ctx.forbid("gen/*")
    args = ("generate", "junk", "--seeds", "0-2", "--out-dir", "gen")
    return [fails(args, 1, "returned 2 image(s)", env={"ADV_JUNK": "few"})]


# ---- 10. training configs -----------------------------------------------------------------------------
SHORT = ("--set", "train.steps=6", "--set", "train.ckpt_every=2", "--set", "train.keep_checkpoints=0")


def _bad_train(ctx: Ctx, *args: str, says: str) -> list[Step]:
    ctx.install("tinytrain")
    ctx.forbid("run")
    return [fails(("train", "tiny", "--out", "run", *args, "-q"), 2, says)]


@attack("training", "--set train.steps=abc")
def _train_steps_abc(ctx: Ctx) -> list[Step]:
    return _bad_train(ctx, "--set", "train.steps=abc", says="train.steps: expected an integer")


@attack("training", "--set train=5")
def _train_section(ctx: Ctx) -> list[Step]:
    return _bad_train(ctx, "--set", "train=5", says="train is a section")


@attack("training", "a misspelt key, train.stesp=5")
def _train_misspelt(ctx: Ctx) -> list[Step]:
    return _bad_train(ctx, "--set", "train.stesp=5", says="did you mean train.steps?")


@attack("training", "--set train.batch_size=0")
def _train_batch_zero(ctx: Ctx) -> list[Step]:
    return _bad_train(ctx, "--set", "train.batch_size=0", says="must be at least 1")


@attack("training", "a binary config file")
def _train_binary_config(ctx: Ctx) -> list[Step]:
    (ctx.work / "c.yaml").write_bytes(bytes(range(256)) * 4)
    return _bad_train(ctx, "--config", "c.yaml", says="binary data")


_TRAINED: dict[str, Path] = {}
_TRAINED_LOCK = threading.Lock()


def _trained(ctx: Ctx) -> None:
    """A finished 6-step run (checkpoints at steps 2, 4, 6) in ``work/run``: trained once per report,
    copied for each attack that damages or resumes it."""
    ctx.install("tinytrain")
    with _TRAINED_LOCK:
        if "run" not in _TRAINED:
            maker = Ctx(Path(tempfile.mkdtemp(prefix="trained-", dir=ctx.root.parent)), ctx.audit_dir)
            maker.install("tinytrain")
            made = run_step(maker, Step(("train", "tiny", "--out", "run", *SHORT, "-q"), 0))
            if made.got != 0:
                raise RuntimeError(f"training the shared run failed: {made.stderr_tail.strip()[-300:]}")
            _TRAINED["run"] = maker.work / "run"
    shutil.copytree(_TRAINED["run"], ctx.work / "run")


@attack("training", "resume with a changed architecture")
def _train_changed_arch(ctx: Ctx) -> list[Step]:
    _trained(ctx)
    return [fails(("train", "tiny", "--resume", "run", "--set", "model.width=8", "-q"), 2, "model.width")]


@attack("training", "resume of another model's run")
def _train_other_model(ctx: Ctx) -> list[Step]:
    _trained(ctx)
    return [fails(("train", "other", "--resume", "run", "-q"), 2, "a run of 'tiny'")]


def _resume_after(ctx: Ctx, damage: Callable[[], None], says: str, *also_changed: str) -> list[Step]:
    """Resume the shared run to step 8 after ``damage``: it goes on from what is intact, saying ``says``."""
    # resuming rewrites the run's own bookkeeping; the user's config.yaml and earlier checkpoints stay
    ctx.may_change("run/metrics.jsonl", "run/checkpoints/last.json", "run/checkpoints/best.json")
    ctx.may_change("run/model.safetensors", "run/config.json", *also_changed)
    _trained(ctx)
    resume = ("train", "tiny", "--resume", "run", "--set", "train.steps=8", "-q")
    return [Step(resume, 0, errors=0, says=(says,), before=damage)]


@attack("training", "resume with the newest checkpoint truncated")
def _train_truncated(ctx: Ctx) -> list[Step]:
    def truncate() -> None:
        f = ctx.work / "run" / "checkpoints" / "step-000006" / "nets.safetensors"
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])

    return _resume_after(ctx, truncate, "resuming from step-000004", "run/checkpoints/step-000006/*")


@attack("training", "resume with a corrupt last.json")
def _train_corrupt_pointer(ctx: Ctx) -> list[Step]:
    def corrupt() -> None:
        (ctx.work / "run" / "checkpoints" / "last.json").write_bytes(b"\x00\x01{not json")

    return _resume_after(ctx, corrupt, "last.json")


@attack("training", "an RGB model (ESPCN) trained on grey images (builtin:digits)")
def _train_grey_data(ctx: Ctx) -> list[Step]:
    ctx.check(lambda: exists(ctx, "run/model.safetensors"))
    quick = (
        "train.steps=1",
        "data.patch=8",
        "train.batch_size=2",
        "train.eval_every=0",
        "train.sample_every=0",
    )
    sets = [x for kv in quick for x in ("--set", kv)]
    return [Step(("train", "espcn", "--data", "builtin:digits", "--out", "run", *sets, "-q"), 0, errors=0)]


# ---- 11. unpinned hub files ---------------------------------------------------------------------------
def _tampered(state: dict) -> None:
    state["conv3.bias"] += 0.25  # still valid weights: without a record they would run silently


TAMPERED = "hf://o/r/espcn.safetensors"


def _swapped_on_mirror(ctx: Ctx, by_commit: bool, says: str) -> list[Step]:
    """Pull the file (by branch, or by its commit), let the mirror swap its bytes under that same
    commit, then run it from a fresh cache: the recorded sha256 must refuse it."""
    hub = ctx.start_hub()
    commit = hub.add_commit("o/r", {"espcn.safetensors": espcn_bytes()})
    spec, revision = (f"{TAMPERED}@{commit}", commit) if by_commit else (TAMPERED, "main")
    png(ctx.work / "a.png")
    ctx.forbid("out/*")

    def tamper() -> None:
        hub.tamper("o/r", "espcn.safetensors", espcn_bytes(_tampered), revision=revision)

    fresh = {"HF_HOME": str(ctx.home / "hf-2"), "HF_HUB_CACHE": str(ctx.home / "hf-2" / "hub")}
    run = ("run", "upscale", "-m", "espcn", "--weights", spec, "a.png", "--out-dir", "out")
    return [
        Step(("pull", spec), 0, setup=True),
        fails(run, 1, says, env=fresh, before=tamper),
    ]


@attack("hub-pinning", "a mirror swaps the file under the same commit")
def _pin_same_commit(ctx: Ctx) -> list[Step]:
    return _swapped_on_mirror(ctx, False, f"{TAMPERED}@main: refused")


@attack("hub-pinning", "a moved branch with other bytes, then pull --refresh")
def _pin_moved_branch(ctx: Ctx) -> list[Step]:
    hub = ctx.start_hub()
    hub.add_commit("o/r", {"espcn.safetensors": espcn_bytes()})

    def move() -> None:
        hub.add_commit("o/r", {"espcn.safetensors": espcn_bytes(_tampered)})

    return [
        Step(("pull", TAMPERED), 0, setup=True),
        fails(("pull", TAMPERED), 1, "--refresh", before=move),
        Step(("pull", TAMPERED, "--refresh"), 0, errors=0, says=("accepted sha256",)),
    ]


@attack("hub-pinning", "a commit-named spec tampered on the mirror")
def _pin_commit_spec(ctx: Ctx) -> list[Step]:
    return _swapped_on_mirror(ctx, True, "refused")


# ---- 12. interrupts -----------------------------------------------------------------------------------
def _slow_batch(ctx: Ctx) -> None:
    ctx.install("slow")
    for i, name in enumerate("abc"):
        png(ctx.work / "in" / f"{name}.png", seed=i)


def _interrupted(ctx: Ctx, where: str, sig: int, expect: int) -> Step:
    marker = ctx.root / "marker"
    env = {"ADV_SLOW_AT": where, "ADV_MARKER": str(marker)}
    says = ("interrupted",) if sig == signal.SIGINT else ()
    errors = 0 if sig == signal.SIGINT else None
    args = ("run", "retouch", "-m", "slow", "in")
    return Step(args, expect, errors=errors, says=says, env=env, interrupt=(marker, sig))


def _sigint(ctx: Ctx, where: str) -> list[Step]:
    """Ctrl-C on the second of three files: the first output is kept, no other is written."""
    _slow_batch(ctx)
    ctx.forbid("results/b_*", "results/c_*")
    ctx.check(lambda: exists(ctx, "results/a_slow_retouch.png"))
    return [_interrupted(ctx, where, signal.SIGINT, 130)]


@attack("interrupts", "Ctrl-C while the model runs on file 2 of 3")
def _sigint_edit(ctx: Ctx) -> list[Step]:
    return _sigint(ctx, "edit")


@attack("interrupts", "Ctrl-C while output 2 is being encoded")
def _sigint_encode(ctx: Ctx) -> list[Step]:
    return _sigint(ctx, "encode")


@attack("interrupts", "kill -9 while encoding, then a --skip-existing rerun")
def _sigkill_then_rerun(ctx: Ctx) -> list[Step]:
    _slow_batch(ctx)

    def age_leftovers() -> None:
        # the killed writer's file, quiet for a minute (genedit removes its own after 10 s)
        old = time.time() - 60
        for p in (ctx.work / "results").glob("*.part"):
            os.utime(p, (old, old))

    ctx.check(lambda: exists(ctx, *(f"results/{n}_slow_retouch.png" for n in "abc")))
    return [
        _interrupted(ctx, "encode", signal.SIGKILL, -signal.SIGKILL),
        Step(
            ("run", "retouch", "-m", "slow", "in", "--skip-existing", "-q"), 0, errors=0, before=age_leftovers
        ),
    ]


# ---- 13. checked up front -----------------------------------------------------------------------------
def _upfront(
    ctx: Ctx, *args: str, says: str, env: dict[str, str] | None = None, model: str = "bicubic"
) -> list[Step]:
    png(ctx.work / "a.png")
    ctx.forbid("out")
    run = ("run", "upscale", "-m", model, "a.png", "--out-dir", "out", *args)
    return [fails(run, 2, says, env=env or {}, timeout=60)]


@attack("upfront", "--tile-overlap -1")
def _neg_overlap(ctx: Ctx) -> list[Step]:
    return _upfront(ctx, "--tile-overlap", "-1", says="expected 0 or more pixels")


@attack("upfront", "--seeds 0-99999999999")
def _huge_seeds(ctx: Ctx) -> list[Step]:
    ctx.plugins.append("gan")
    ctx.forbid("gen")
    return [fails(("generate", "dcgan", "--seeds", "0-99999999999", "--out-dir", "gen"), 2, "10,000")]


@attack("upfront", "GENEDIT_MAX_PIXELS=abc")
def _max_pixels_env(ctx: Ctx) -> list[Step]:
    return _upfront(ctx, says="GENEDIT_MAX_PIXELS='abc'", env={"GENEDIT_MAX_PIXELS": "abc"})


@attack("upfront", "--max-pixels -5")
def _max_pixels_flag(ctx: Ctx) -> list[Step]:
    return _upfront(ctx, "--max-pixels", "-5", says="expected a positive number of pixels")


@attack("upfront", "--device ''")
def _empty_device(ctx: Ctx) -> list[Step]:
    return _upfront(ctx, "--device", "", says="--device ''")


@attack("upfront", "--ext gif")
def _ext_gif(ctx: Ctx) -> list[Step]:
    return _upfront(ctx, "--ext", "gif", says="genedit cannot write this type")


@attack("upfront", "a .gif input that cannot be written back")
def _gif_input(ctx: Ctx) -> list[Step]:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(ctx.work / "anim.gif", format="GIF")
    return _upfront(ctx, "anim.gif", says="anim.gif: genedit cannot write '.gif' files")


@attack("upfront", "weights that are a FIFO")
def _fifo_weights(ctx: Ctx) -> list[Step]:
    os.mkfifo(ctx.work / "w.safetensors")
    return _upfront(ctx, "--weights", "w.safetensors", says="a FIFO", model="espcn")


@attack("upfront", "weights that are /dev/zero")
def _dev_zero_weights(ctx: Ctx) -> list[Step]:
    return _upfront(ctx, "--weights", "/dev/zero", says="a device", model="espcn")


@attack("upfront", "inputs that are a FIFO and a link to /dev/zero (per file: exit 1)")
def _fifo_inputs(ctx: Ctx) -> list[Step]:
    os.mkfifo(ctx.work / "fifo.png")
    (ctx.work / "zero.png").symlink_to("/dev/zero")
    png(ctx.work / "good.png")
    ctx.forbid("out/fifo*", "out/zero*")
    ctx.check(lambda: exists(ctx, "out/good_bicubic_x2.png"))
    args = ("run", "upscale", "-m", "bicubic", "fifo.png", "zero.png", "good.png", "--out-dir", "out", "-q")
    return [Step(args, 1, errors=2, says=("fifo.png: a FIFO", "zero.png: a device"), timeout=60)]


# ---- running and measuring ------------------------------------------------------------------------------
def genedit_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m genedit_cli``."""
    script = Path(sys.executable).parent / "genedit"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "genedit_cli"]


@dataclass
class StepResult:
    args: list[str]
    setup: bool
    expect: int
    got: int | None
    errors: int
    expected_errors: int | None
    missing: list[str]
    traceback: bool
    unexpected: bool
    seconds: float
    peak_mb: float
    stderr_tail: str


@dataclass
class AttackResult:
    cls: str
    name: str
    steps: list[StepResult] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    peak_mb: float = 0.0

    def counts(self) -> dict[str, int]:
        return {
            "tracebacks": sum(s.traceback for s in self.steps),
            "unexpected": sum(s.unexpected for s in self.steps),
            "wrong_exit": sum(s.got != s.expect for s in self.steps),
            "wrong_lines": sum(
                bool(s.missing) or (s.expected_errors is not None and s.errors != s.expected_errors)
                for s in self.steps
            ),
            "partial": len(self.partial),
            "lost": len(self.lost),
            "escapes": len(self.escapes),
            "wrong_results": len(self.problems),
        }


def run_step(ctx: Ctx, step: Step) -> StepResult:
    if step.before is not None:
        step.before()
    out_file, err_file = ctx.root / "stdout", ctx.root / "stderr"
    start = time.perf_counter()
    with open(out_file, "w") as out, open(err_file, "w") as err:
        proc = subprocess.Popen(
            [*genedit_command(), *step.args],
            cwd=ctx.work,
            env=ctx.env(step.env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(step.timeout, kill)
        timer.start()
        try:
            if step.interrupt is not None:
                marker, sig = step.interrupt
                while not marker.exists() and proc.poll() is None and not timed_out.is_set():
                    time.sleep(0.05)
                if marker.exists() and proc.poll() is None:
                    os.kill(proc.pid, sig)
            if proc.returncode is None:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                peak = usage.ru_maxrss / 1024
            else:  # reaped by poll(): no rusage of its own
                peak = 0.0
        finally:
            timer.cancel()
    text_out, text_err = out_file.read_text(errors="replace"), err_file.read_text(errors="replace")
    both = text_out + text_err
    got = None if timed_out.is_set() else proc.returncode
    if timed_out.is_set():
        text_err += f"\n[report] no exit after {step.timeout:.0f} s: killed"
    if step.interrupt is not None and not step.interrupt[0].exists():
        text_err += "\n[report] the slow step was never reached: no signal was sent"
    ctx.peaks.append(peak)
    return StepResult(
        args=list(step.args),
        setup=step.setup,
        expect=step.expect,
        got=got,
        errors=sum(line.startswith("error:") for line in text_err.splitlines()),
        expected_errors=step.errors,
        missing=[s for s in step.says if s not in both] + [f"not {s!r}" for s in step.never if s in both],
        traceback="Traceback" in both,
        unexpected=any(line.startswith("error: unexpected") for line in text_err.splitlines()),
        seconds=time.perf_counter() - start,
        peak_mb=peak,
        stderr_tail=text_err[-600:],
    )


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every regular file (a link: its target; a FIFO or device: its kind) under ``folder``."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            st = path.lstat()
            if os.path.islink(path):
                found[rel] = "link:" + os.readlink(path)
            elif not stat.S_ISREG(st.st_mode):
                found[rel] = "special"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """(mtime, size) of everything under ``folder``, the folder included: cheap, for sentinels."""
    found: dict[str, tuple[int, int]] = {}
    if not folder.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            found[str(path.resolve() if name == "." else path)] = (st.st_mtime_ns, st.st_size)
    return found


def temporaries(folder: Path, before: set[str]) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            rel = (Path(dirpath) / name).relative_to(folder).as_posix()
            if TEMP_NAME.search(name) and rel not in before:
                found.append(rel)
    return found


def escapes_from_log(ctx: Ctx) -> list[str]:
    """Distinct paths outside the attack's folder (or inside its sentinel) that were touched."""
    if not ctx.audit_log.exists():
        return ["the audit log was not written (the hook did not run)"]
    root, outside = str(ctx.root) + os.sep, str(ctx.outside) + os.sep
    touched: dict[str, set[str]] = {}
    for line in ctx.audit_log.read_text(errors="replace").splitlines():
        kind, _, path = line.partition("\t")
        inside = (path + os.sep).startswith(root) and not (path + os.sep).startswith(outside)
        if kind == "read" or (path not in IGNORED_WRITES and not inside):
            touched.setdefault(path, set()).add(kind)
    return [f"{path} ({', '.join(sorted(kinds))})" for path, kinds in sorted(touched.items())]


def run_attack(item: Attack, base: Path, audit_dir: Path, keep: bool) -> AttackResult:
    result = AttackResult(item.cls, item.name)
    root = Path(tempfile.mkdtemp(prefix=f"{item.cls}-", dir=base))
    ctx = Ctx(root, audit_dir)
    start = time.perf_counter()
    try:
        steps = item.build(ctx)
        outside_before = snapshot(ctx.outside)
        before: dict[str, str] | None = None
        for step in steps:
            if not step.setup and before is None:
                if step.before is not None:
                    step.before()
                    step.before = None
                before = snapshot(ctx.work)
            result.steps.append(run_step(ctx, step))
        if before is None:
            before = snapshot(ctx.work)
        after = snapshot(ctx.work)
        for rel, digest in sorted(before.items()):
            if any(fnmatch.fnmatchcase(rel, g) for g in ctx.mutable):
                continue
            if rel not in after:
                result.lost.append(f"{rel} (removed)")
            elif after[rel] != digest:
                result.lost.append(f"{rel} (changed)")
        known = set(before)
        result.partial += temporaries(ctx.work, known)
        result.partial += [f"home/{p}" for p in temporaries(ctx.home, set())]
        for pattern in ctx.forbidden:
            hits = [p for p in ctx.work.glob(pattern) if p.relative_to(ctx.work).as_posix() not in known]
            result.partial += [
                f"{p.relative_to(ctx.work).as_posix()} (output of a failed input)" for p in hits
            ]
        result.partial = sorted(set(result.partial))
        result.escapes += escapes_from_log(ctx)
        if snapshot(ctx.outside) != outside_before and not any(str(ctx.outside) in e for e in result.escapes):
            result.escapes.append(f"{ctx.outside}: changed, by no operation the audit hook saw")
        for check in ctx.checks:
            result.problems += check()
    except Exception as exc:  # the harness failing is reported, never dropped
        result.problems.append(f"report harness: {type(exc).__name__}: {exc}")
    finally:
        if ctx.hub is not None:
            ctx.hub.stop()
        result.seconds = time.perf_counter() - start
        result.peak_mb = max(ctx.peaks, default=0.0)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


# ---- the report -----------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("genedit", "torch", "pillow", "numpy", "huggingface-hub", "tifffile", "pypng"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["platform"] = f"{platform.system()} {platform.machine()}"
    return out


def cpu_line() -> str:
    from genedit_core.device import cpu_flags

    flags = sorted(cpu_flags() & set(CPU_FLAGS), key=CPU_FLAGS.index)
    return f"{os.cpu_count()} cores; flags: {' '.join(flags) or 'none of ' + ', '.join(CPU_FLAGS)}"


def summarise(results: list[AttackResult], classes: list[str]) -> tuple[dict, dict[str, int]]:
    table = {}
    for cls in classes:
        mine = [r for r in results if r.cls == cls]
        counts = {k: sum(r.counts()[k] for r in mine) for k in COUNTS}
        table[cls] = {
            "title": CLASSES[cls],
            "attacks": len(mine),
            "steps": sum(len(r.steps) for r in mine),
            **counts,
        }
    totals = {k: sum(row[k] for row in table.values()) for k in ("attacks", "steps", *COUNTS)}
    return table, totals


def markdown(table: dict, totals: dict[str, int]) -> str:
    head = ["class", "attacks", "runs", *(HEADINGS[k] for k in COUNTS)]
    rows = [[row["title"], row["attacks"], row["steps"], *(row[k] for k in COUNTS)] for row in table.values()]
    rows.append(["**total**", totals["attacks"], totals["steps"], *(totals[k] for k in COUNTS)])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def details(results: list[AttackResult], verbose: bool) -> list[str]:
    lines = []
    for r in results:
        counts = r.counts()
        bad = sum(counts.values())
        if not bad and not verbose:
            continue
        mark = "FAIL" if bad else "ok  "
        lines.append(f"{mark} [{r.cls}] {r.name} ({r.seconds:.1f} s, peak {r.peak_mb:.0f} MB)")
        for s in r.steps:
            wrong_lines = s.expected_errors is not None and s.errors != s.expected_errors
            if s.got != s.expect or s.traceback or s.unexpected or s.missing or wrong_lines or verbose:
                lines.append(
                    f"     genedit {shlex.join(s.args)}: exit {s.got} (promised {s.expect}), "
                    f"{s.errors} error line(s) (promised {s.expected_errors})"
                    + (f", missing {s.missing}" if s.missing else "")
                )
                if bad and (s.got != s.expect or s.traceback or s.unexpected or s.missing or wrong_lines):
                    lines += ["       | " + x for x in s.stderr_tail.strip().splitlines()[-6:]]
        for label, items in (
            ("partial", r.partial),
            ("lost", r.lost),
            ("escape", r.escapes),
            ("wrong", r.problems),
        ):
            lines += [f"     {label}: {x}" for x in items]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--classes", help=f"comma-separated subset of: {', '.join(CLASSES)}")
    parser.add_argument("--quick", action="store_true", help="only the first attack of each class")
    parser.add_argument("--jobs", type=int, default=2, help="attacks run side by side (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the attack folders (printed)")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="every attack and step, not only failures"
    )
    args = parser.parse_args(argv)

    classes = list(CLASSES)
    if args.classes:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
        unknown = [c for c in classes if c not in CLASSES]
        if unknown:
            parser.error(f"unknown class(es) {', '.join(unknown)}; choose from {', '.join(CLASSES)}")
    chosen = [a for a in CATALOGUE if a.cls in classes]
    if args.quick:
        chosen = [next(a for a in chosen if a.cls == c) for c in classes]
    if args.list:
        for a in chosen:
            print(f"{a.cls:12} {a.name}")
        return 0

    base = Path(tempfile.mkdtemp(prefix="genedit-adversarial-"))
    audit_dir = base / "audit"
    audit_dir.mkdir()
    (audit_dir / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
    sentinels = [Path.home() / ".cache" / "genedit", Path.home() / ".cache" / "huggingface"]
    sentinel_before = {str(p): stamps(p) for p in sentinels}
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda a: run_attack(a, base, audit_dir, args.keep), chosen))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    elapsed = time.perf_counter() - started
    sentinel_changes = [
        f"{p}: default cache folder changed during the report"
        for p in sentinels
        if stamps(p) != sentinel_before[str(p)]
    ]

    table, totals = summarise(results, classes)
    totals["escapes"] += len(sentinel_changes)
    command = "benchmarks/adversarial_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command.strip(),
        "versions": versions(),
        "cpu": cpu_line(),
        "seconds": round(elapsed, 1),
        "jobs": args.jobs,
    }
    failed = any(totals[k] for k in COUNTS)
    if args.json:
        report = {
            **meta,
            "classes": table,
            "totals": totals,
            "sentinel_escapes": sentinel_changes,
            "attacks": [
                {
                    **{k: v for k, v in asdict(r).items() if k != "steps"},
                    "counts": r.counts(),
                    "steps": [asdict(s) for s in r.steps],
                }
                for r in results
            ],
            "ok": not failed,
        }
        print(json.dumps(report, indent=2))
    else:
        v = meta["versions"]
        print(f"genedit adversarial report, {meta['date']}")
        print(f"command : .venv/bin/python {meta['command']}")
        print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
        print(f"cpu     : {meta['cpu']}")
        print(f"time    : {elapsed:.0f} s, {args.jobs} attack(s) at a time, {totals['steps']} genedit runs")
        print()
        print(markdown(table, totals))
        lines = details(results, args.verbose) + sentinel_changes
        if lines:
            print()
            print("\n".join(lines))
        if args.keep:
            print(f"\nattack folders kept in {base}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
