"""A fork server for the docs examples: each page's ``genedit`` commands start from one process
that has already imported torch and the plugins.

Why: the pages hold about 170 ``genedit`` commands, and each fresh process spends about 2-3 CPU
seconds importing torch, typer and the plugins before it does anything: a third of the docs test's
CPU time on the 2-core CI machine, spent proving nothing the first import did not. The server
imports once; every command then runs in a ``fork`` of it, with the command's own arguments,
working folder, environment and standard streams (passed as file descriptors), and exits with the
command's exit code or signal. What the commands test is unchanged: the same ``genedit_cli.app:main``
the console script calls, in a process of its own.

What is not forked, and runs the real ``genedit`` instead (the ``exec`` answer): a command whose
environment differs from the server's in a variable read at import time (``PYTHONPATH``, thread
counts, oneDNN/ATen caps, the Hugging Face settings), e.g. after the plugin guide installs its
package on ``PYTHONPATH``, and any command when the server cannot be reached.

The shim (the ``genedit`` first on the page's ``PATH``) forwards SIGTERM, SIGINT and SIGHUP to the
forked command, so ``timeout``, ``kill $(cat serve.pid)`` and background servers behave as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# read when a module is imported (torch's thread pools, huggingface_hub's constants, sys.path):
# a command that sets one of these differently from the server's environment runs for real
IMPORT_TIME = ("PYTHON", "OMP_", "MKL_", "KMP_", "TORCH", "ONEDNN_", "DNNL_", "ATEN_", "LD_", "HF_", "CUDA")

SHIM = """#!{python} -IS
# genedit, run by the docs test's fork server ({module}); the real program: {real}
import json, os, signal, socket, sys

REAL = {real!r}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect({sock!r})
    body = json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ),
                       "nice": os.nice(0)}}).encode()
    socket.send_fds(s, [len(body).to_bytes(8, "big") + body], [0, 1, 2])
    answers = s.makefile("rb")
    first = json.loads(answers.readline() or b'{{"exec": true}}')
except OSError:
    first = {{"exec": True}}
if first.get("exec"):
    os.execv(REAL, [REAL, *sys.argv[1:]])
pid = first["pid"]
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(number, lambda n, _f: os.kill(pid, n))
line = answers.readline()
if not line:
    sys.stderr.write("docs fork server: the command's process vanished\\n")
    sys.exit(70)
code = json.loads(line)["code"]
if code < 0:  # died of a signal: die of the same one
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


class ForkServer:
    """One page's server process and the ``genedit`` shim pointing at it."""

    def __init__(self, cwd: Path, env: dict[str, str], bindir: Path) -> None:
        # a short folder of its own: a Unix socket's path must fit in about 100 bytes
        self.sock = os.path.join(tempfile.mkdtemp(prefix="gdfs"), "s")
        real = str(Path(sys.executable).parent / "genedit")
        bindir.mkdir(parents=True, exist_ok=True)
        shim = bindir / "genedit"
        shim.write_text(SHIM.format(python=sys.executable, module=__name__, real=real, sock=self.sock))
        shim.chmod(0o755)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, self.sock, real],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(bindir / "forkserver.log", "wb"),  # noqa: SIM115 (the child owns it)
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """True once the server listens (after its imports); False if it died or never did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if os.path.exists(self.sock + ".ready"):
                return True
            time.sleep(0.05)
        return False

    @property
    def cpu_log(self) -> Path:
        """One line per finished command: its CPU seconds (children of the server, not of the page)."""
        return Path(self.sock + ".cpu")

    def close(self) -> None:
        """Stop the server and whatever it forked that still runs (a background command)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        shutil.rmtree(os.path.dirname(self.sock), ignore_errors=True)


def preload() -> None:
    """What every command imports anyway: torch, the CLI, and each installed plugin's module."""
    from importlib import metadata

    import genedit_cli.app  # noqa: F401
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import torch  # noqa: F401

    for ep in metadata.entry_points(group="genedit"):
        # a broken plugin is reported by the command itself, as without the server
        with contextlib.suppress(Exception):
            ep.load()


def import_env_differs(env: dict[str, str], base: dict[str, str]) -> bool:
    keys = {k for k in {*env, *base} if k.startswith(IMPORT_TIME)}
    return any(env.get(k) != base.get(k) for k in keys)


def receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    while len(data) < 8 or len(data) < 8 + int.from_bytes(data[:8], "big"):
        more = conn.recv(1 << 16)
        if not more:
            raise ConnectionError("short request")
        data += more
    return json.loads(data[8 : 8 + int.from_bytes(data[:8], "big")]), fds


def run_command(request: dict, fds: list[int], real: str) -> None:
    """In the forked child: become the command, run genedit's main, exit as a process would."""
    import atexit

    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    wanted = int(request.get("nice", 0)) - os.nice(0)
    if wanted > 0:
        os.nice(wanted)
    sys.argv = [real, *request["argv"]]
    sys.path[0] = os.path.dirname(real)  # as for the console script
    code: int = 0
    try:
        from genedit_cli.app import main

        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def serve(sock: str, real: str) -> None:
    preload()
    base = dict(os.environ)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock)
    listener.listen(32)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    waiting: dict[int, socket.socket] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    Path(sock + ".ready").touch()
    parent = os.getppid()
    while True:
        ready, _, _ = select.select([listener, wake_r], [], [], 2.0)
        if os.getppid() != parent:  # the page's worker died without close(): take the commands too
            os.killpg(0, signal.SIGKILL)
        if wake_r in ready:
            os.read(wake_r, 4096)
        if listener in ready:
            conn, _ = listener.accept()
            try:
                request, fds = receive(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            if len(fds) != 3 or import_env_differs(request["env"], base):
                for fd in fds:
                    os.close(fd)
                conn.sendall(b'{"exec": true}\n')
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                run_command(request, fds, real)
            for fd in fds:
                os.close(fd)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            waiting[pid] = conn
        while waiting:  # reap every finished command and tell its shim how it ended
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            with open(sock + ".cpu", "a") as log:  # the page's CPU accounting (ForkServer.cpu_s)
                log.write(f"{usage.ru_utime + usage.ru_stime:.3f}\n")
            conn = waiting.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                conn.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
