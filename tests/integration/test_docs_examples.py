"""Every shell example and Python snippet in README.md and docs/**/*.md runs as written (issue 18).

An integration test (tests/integration/): the pages name the real models of every in-tree plugin
(edsr, dcgan, vae, ...) and genedit-compress's commands, so only the installed plugins can run them.

Why: a newcomer copies commands from the docs first. Commands that name files nobody has, need a
folder nobody made, or use names a snippet never defined cost the first hour, so the docs are
tested like code: one test per page, offline, in a fresh copy of the repository.

What runs, in page order, in a page's own copy of the repository's tracked files (a fresh clone
without .git, with ``.venv`` linked to the venv running the tests), with the venv's ``bin`` first on
``PATH``, ``HF_HUB_OFFLINE=1``, an empty ``HOME`` and Hugging Face cache, no ``GENEDIT_*``
variables, and ``OMP_NUM_THREADS=1`` unless set (the commands are many and small; two pages run at
a time, and more threads per command would only contend for the cores):

- Fenced blocks whose info string starts with ``bash``, ``sh``, ``shell`` or ``console``. In
  ``console`` blocks the commands are the ``$ `` lines (other lines are output); in the others every
  line that is not blank or a ``#`` comment. A line ending in ``\\`` continues on the next. Each
  command runs alone in ``bash -o pipefail -c`` and must exit 0, except in a ``console`` block where
  the first output line after it starts with ``error:``: that command must exit non-zero. Output
  text is never compared.
- Fenced ``python``/``py`` blocks: each runs alone in a fresh interpreter (snippets must be
  self-contained, as readers copy them one at a time) and must exit 0.
- A block with ``title="PATH"`` (any language, e.g. ``python`` or ``toml``) is a file the page asks
  the reader to create: it is written to PATH instead of being run, and if its name matches
  ``test_*.py`` it is then run with pytest.

Markers, the words after the language in the info string (an unknown word fails the test):

- ``hub``: needs the Hugging Face Hub. Not run, since the tests are offline.
- ``long``: the full recipe takes minutes. Run with this reduction: every ``train.steps=N`` and
  ``--finetune-steps N`` becomes N // 500, at least 2 (a resumed run still gets more steps than it
  had), every ``--finetune-pool N`` N // 500, at least 8 (one fine-tune batch); a new
  ``genedit train`` (no ``--resume``) without ``train.steps`` gets ``--set train.steps=2``;
  ``genedit optimize`` and ``genedit bench`` get ``--repeats 1``; lines that are not ``genedit``
  commands (training and benchmark scripts) are not run.

Setup lines are not run (rule): lines whose command is ``make``, ``source``, ``pip``, ``torchrun``
or ``python -m build|twine|pip``; the venv this test runs in is that setup. The exception is
``pip install [-e] ./DIR`` of a folder the page wrote (the plugin guide's package): it is installed
with ``pip install --no-deps --no-build-isolation --no-index --target SITE`` and SITE is put on
``PYTHONPATH`` for the rest of the page, so the venv is left unchanged.

Where the time goes: the ``genedit`` commands of a page fork from a server that imported torch and
the plugins once (``docs_forkserver``), which took the pages from 880 to 579 CPU seconds; on CI's
2 cores all pages take about 7 minutes of the suite's 16 (stop 26's clean-clone run). Each page's
test prints where its time went (``-s``, or on failure).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docs_forkserver import ForkServer

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
PYTHON = {"python", "py"}
MARKERS = {"hub", "long"}
SETUP = {"make", "source", "pip", "pip3", "torchrun"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
TIMEOUT_S = 300
# In `long` blocks these counts become N // 500, at least the floor (8 for the pool: one batch).
LONG_COUNTS = {"train.steps=": 2, "--finetune-steps ": 2, "--finetune-pool ": 8}
WORKERS = 2


@dataclass
class Block:
    """One fenced block: where it starts, its language, markers, title and text."""

    page: Path
    line: int
    lang: str
    markers: set[str]
    title: str | None
    text: str


@dataclass
class Command:
    """One shell command of a block, and whether the docs show it failing."""

    line: int
    text: str
    expect_error: bool = False


@dataclass
class PageRun:
    """The working folder of one page and what went wrong in it."""

    cwd: Path
    env: dict[str, str]
    failures: list[str] = field(default_factory=list)
    timings: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    forked_cpu_log: Path | None = None  # the fork server's record (ForkServer.cpu_log)


def parse_blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, indentation removed, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        words = shlex.split(m["info"].strip())
        lang = words[0].lower() if words else ""
        title = next((w.split("=", 1)[1] for w in words[1:] if w.startswith("title=")), None)
        markers = {w for w in words[1:] if not w.startswith("title=")}
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        blocks.append(Block(page, i - len(body) + 1, lang, markers, title, "\n".join(body)))
        i += 1
    return blocks


def shell_commands(block: Block) -> list[Command]:
    """Commands of a shell block: console ``$`` lines (output marks expected errors), else all lines."""
    commands: list[Command] = []
    lines = block.text.splitlines()
    console = block.lang == "console"
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        start = block.line + i
        i += 1
        if console:
            if not raw.startswith("$ "):
                continue
            raw = raw[2:]
        elif not raw or raw.startswith("#"):
            continue
        parts = [raw]
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            parts.append(lines[i].strip())
            i += 1
        cmd = Command(start, " ".join(p.strip() for p in parts))
        if console and i < len(lines) and lines[i].strip().startswith("error:"):
            cmd.expect_error = True
        commands.append(cmd)
    return commands


def program(words: list[str]) -> list[str]:
    """The words after leading ``VAR=value`` assignments."""
    k = 0
    while k < len(words) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[k]):
        k += 1
    return words[k:]


def is_setup(words: list[str]) -> bool:
    """The documented rule: environment setup that the test's own venv already did."""
    if not words:
        return False
    name = os.path.basename(words[0])
    if name in SETUP:
        return True
    return name.startswith("python") and words[1:3] in (["-m", "build"], ["-m", "twine"], ["-m", "pip"])


def reduce_long(text: str, words: list[str]) -> str | None:
    """A ``long`` block's command with step counts cut, or None when it is not run at all."""
    if not words or words[0] != "genedit":
        return None

    for option, floor in LONG_COUNTS.items():
        text = re.sub(
            rf"({re.escape(option)})(\d+)", lambda m, f=floor: f"{m[1]}{max(f, int(m[2]) // 500)}", text
        )
    extra = ""
    if words[1:2] == ["train"] and "train.steps=" not in text and "--resume" not in words:
        extra = " --set train.steps=2"
    elif words[1:2] in (["optimize"], ["bench"]):
        extra = " --repeats 1"
    return text.split(" #", 1)[0].rstrip() + extra


def children_cpu(run: PageRun) -> float:
    """CPU seconds of this process's finished children and of the commands the page's fork server
    ran: exact per command, because a page runs in a worker process of its own, one command at a time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = 0.0
    if run.forked_cpu_log is not None and run.forked_cpu_log.is_file():
        forked = sum(float(x) for x in run.forked_cpu_log.read_text().split())
    return usage.ru_utime + usage.ru_stime + forked


def run_step(run: PageRun, where: str, args: list[str] | str, *, shell: bool, expect_error: bool) -> None:
    """Run one command in the page's folder and record a failure with the tail of its output."""
    start, cpu = time.perf_counter(), children_cpu(run)
    try:
        proc = subprocess.run(
            args,
            cwd=run.cwd,
            env=run.env,
            shell=shell,
            executable="/bin/bash" if shell else None,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        run.failures.append(f"{where}: timed out after {TIMEOUT_S} s")
        return
    finally:  # printed by the page's test (seen with -s or on failure): where its time goes
        used = children_cpu(run) - cpu
        run.cpu_s += used
        run.timings.append(f"{time.perf_counter() - start:6.1f} s (cpu {used:5.1f} s)  {where}")
    if (proc.returncode != 0) != expect_error:
        wanted = "a non-zero exit (the docs show an error)" if expect_error else "exit 0"
        tail = "\n    ".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        run.failures.append(f"{where}: exit {proc.returncode}, wanted {wanted}\n    {tail}")


def run_shell_block(run: PageRun, block: Block, rel: str) -> None:
    if "hub" in block.markers:
        return
    for cmd in shell_commands(block):
        words = program(shlex.split(cmd.text, comments=True))
        text = cmd.text
        if is_setup(words):
            target = pip_target(words, run.cwd)
            if target is None:
                continue
            site = run.cwd / ".docs-site"
            run_step(
                run,
                f"{rel}:{cmd.line}: {cmd.text}",
                [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
                + ["--no-index", "--target", str(site), str(target)],
                shell=False,
                expect_error=False,
            )
            paths = [str(site), run.env.get("PYTHONPATH", "")]
            run.env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
            continue
        if "long" in block.markers:
            reduced = reduce_long(text, words)
            if reduced is None:
                continue
            text = reduced
        run_step(
            run,
            f"{rel}:{cmd.line}: {text}",
            "set -o pipefail\n" + text,
            shell=True,
            expect_error=cmd.expect_error,
        )


def pip_target(words: list[str], cwd: Path) -> Path | None:
    """The folder of ``pip install [-e] ./DIR`` when the page wrote DIR, else None (setup: skipped)."""
    if os.path.basename(words[0]) not in ("pip", "pip3") or words[1:2] != ["install"]:
        return None
    args = [w for w in words[2:] if w not in ("-e", "--editable")]
    if len(args) == 1 and args[0].startswith(("./", "../")):
        target = (cwd / args[0]).resolve()
        if (target / "pyproject.toml").is_file() and target.is_relative_to(cwd):
            return target
    return None


def run_python_block(run: PageRun, block: Block, rel: str) -> None:
    if "hub" in block.markers:
        return
    run_step(
        run,
        f"{rel}:{block.line}: python block",
        [sys.executable, "-c", block.text],
        shell=False,
        expect_error=False,
    )


def write_titled(run: PageRun, block: Block, rel: str) -> None:
    path = run.cwd / block.title
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.text + "\n", encoding="utf-8")
    if re.fullmatch(r"test_.*\.py", path.name):
        run_step(
            run,
            f"{rel}:{block.line}: pytest {block.title}",
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
            shell=False,
            expect_error=False,
        )


def fresh_clone(dest: Path) -> Path:
    """The repository's tracked files (working-tree contents) copied to ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=False)
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.split("\0")):
            src = REPO / name
            if src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
    else:  # not a git checkout: everything but the usual build and run folders
        skip = shutil.ignore_patterns(".git", ".venv", "runs", "out", "results", "generated", "__pycache__")
        shutil.copytree(REPO, dest, ignore=skip, dirs_exist_ok=True)
    # The docs call scripts as `.venv/bin/python scripts/...`, as after `make setup`.
    (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return dest


def page_id(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def test_every_plugin_has_the_extra_the_makefile_installs():
    """``make setup`` installs each plugin with ``[all]``; pip warns (and installs nothing extra)
    for a plugin that lacks the extra, which is what `make demo` showed a newcomer (issue 18)."""
    import tomllib

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    extra = re.search(r'-e "\$\(p\)\[(\w+)\]"', makefile)
    assert extra, 'the Makefile no longer installs plugins as -e "$(p)[EXTRA]"'
    lacking = [
        pyproject.parent.name
        for pyproject in sorted((REPO / "plugins").glob("*/pyproject.toml"))
        if extra[1] not in tomllib.loads(pyproject.read_text())["project"].get("optional-dependencies", {})
    ]
    assert not lacking, f"plugins without the [{extra[1]}] extra that make setup asks for: {lacking}"


def test_markers_are_known():
    """A misspelt marker (``bash hbu``) would silently run, or silently not run, a block."""
    bad = [
        f"{page_id(b.page)}:{b.line}: {sorted(b.markers - MARKERS)}"
        for page in PAGES
        for b in parse_blocks(page)
        if b.lang in SHELL | PYTHON and b.markers - MARKERS
    ]
    assert not bad, "unknown markers in fenced blocks:\n" + "\n".join(bad)


def page_env(home: Path) -> dict[str, str]:
    """The environment of a page's commands: the venv first, offline, nothing of the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENEDIT_", "HF_", "PYTHON"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    home.mkdir(parents=True)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), HF_HOME=str(home / "hf"))
    env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    env.setdefault("COLUMNS", "120")
    env.setdefault("OMP_NUM_THREADS", "1")  # many small commands: oversubscribed threads only spin
    return env


def run_page(page: Path, tmp: Path) -> PageRun:
    """Every block of one page, in order, in its own fresh clone; its ``genedit`` commands start
    from a fork server that imported torch and the plugins once (docs_forkserver's docstring)."""
    run = PageRun(cwd=fresh_clone(tmp / "clone"), env=page_env(tmp / "home"))
    rel = page_id(page)
    server = None
    if any(b.lang in SHELL for b in parse_blocks(page)):
        bindir = tmp / "forkserver"
        server = ForkServer(run.cwd, run.env, bindir)
        if server.wait_ready():
            run.forked_cpu_log = server.cpu_log
            run.env["PATH"] = os.pathsep.join([str(bindir), run.env["PATH"]])
        else:
            run.timings.append("(the fork server did not start: every command imports torch itself)")
    try:
        for block in parse_blocks(page):
            if block.title:
                write_titled(run, block, rel)
            elif block.lang in SHELL:
                run_shell_block(run, block, rel)
            elif block.lang in PYTHON:
                run_python_block(run, block, rel)
    finally:
        if server is not None:
            server.close()
            run.forked_cpu_log = None  # removed with the server's folder
    return run


def has_examples(page: Path) -> bool:
    return any(b.lang in SHELL | PYTHON for b in parse_blocks(page))


@pytest.fixture(scope="session")
def page_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The selected pages, run two at a time in the background (the commands are single-threaded),
    longest first; each page's test waits for its own."""
    selected = [
        item.callspec.params["page"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_page_examples_run"
    ]
    pages = sorted(
        (p for p in selected if has_examples(p)),
        key=lambda p: -sum(len(b.text) for b in parse_blocks(p) if b.lang in SHELL | PYTHON),
    )
    # Worker processes, not threads: each page's CPU time is then its own (children_cpu).
    pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=multiprocessing.get_context("spawn"))
    futures = {p: pool.submit(run_page, p, tmp_path_factory.mktemp("docs")) for p in pages}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_examples_run(page: Path, page_runs: dict[Path, Future[PageRun]]) -> None:
    if page not in page_runs:
        pytest.skip("no shell or Python examples on this page")
    run = page_runs[page].result()
    print("\n".join(run.timings) + f"\n{run.cpu_s:.1f} s of CPU in all")
    if run.failures:
        rel = page_id(page)
        pytest.fail(f"{len(run.failures)} example(s) in {rel} failed:\n" + "\n".join(run.failures), False)
