"""Per-process overhead at exit (issue 19): the ``genedit`` program freezes the GC before the interpreter ends.

With torch imported, the interpreter's last collections cost over a second per process on a loaded
2-core machine. The program (``main()`` without ``argv``) registers ``gc.freeze`` as its first exit
handler, so it runs after every other one; a caller embedding genedit (``main(argv)``) keeps its own
interpreter's behaviour. Checked by what an exit handler registered before genedit's sees, never
by a time.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = """
    import atexit, gc, sys
    # registered before genedit's handler, so it runs after it: it sees what genedit left
    atexit.register(lambda: sys.stderr.write("FROZEN=" + str(gc.get_freeze_count() > 0)))
    from genedit_cli.app import main
    CALL
"""


def run(call: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(PROBE.replace("CALL", call))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_program_freezes_the_gc_at_exit_and_still_exits_cleanly() -> None:
    done = run("sys.argv = ['genedit', 'list']; main()")
    assert done.returncode == 0, done.stderr
    assert "FROZEN=True" in done.stderr
    assert done.stdout  # the listing was printed and flushed before the freeze


def test_an_embedding_caller_keeps_its_interpreter_as_it_was() -> None:
    done = run("main(['list'])")
    assert done.returncode == 0, done.stderr
    assert "FROZEN=False" in done.stderr
