"""The ``--backend auto`` table under concurrent writers (issue 19): no entry is lost, the file stays whole.

Two processes record different models into one table at the same moment, the way two
``genedit bench --compare`` runs would. Each record is a read-modify-write of the whole file; without
the lock around it, a writer renames in a table it read before the other's entry existed and that
entry is gone (run without :func:`~genedit_core.autobackend.table_lock`, this test loses entries on
every run tried). The atomic rename alone keeps the file parseable; the lock keeps every entry.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from genedit_core import autobackend

PER_PROCESS = 30

WRITER = """
    import sys, time
    from pathlib import Path
    from genedit_core import autobackend
    from genedit_core.cards import ModelCard

    table, who, n, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():  # both writers start together
        time.sleep(0.001)
    for i in range(n):
        card = ModelCard(name=f"{who}{i}", tasks=("upscale",), family="toy", summary="t", plugin="lock")
        autobackend.record_backend_times(
            card, 2, "cpu", "fp32", (40, 48), {"torch": 10.0 + i, "fast": 5.0}, path=table
        )
"""


def test_two_processes_recording_at_once_keep_every_entry(tmp_path: Path) -> None:
    table, go = tmp_path / "cache" / autobackend.TABLE_NAME, tmp_path / "go"
    script = textwrap.dedent(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(table), who, str(PER_PROCESS), str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    time.sleep(0.5)  # both interpreters up and waiting
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    data = json.loads(table.read_text())  # whole: it parses
    models = sorted(e["model"] for e in data["entries"].values())
    want = sorted(f"lock:{who}{i} x2" for who in "ab" for i in range(PER_PROCESS))
    assert models == want
    assert all(e["winner"] == "fast" for e in data["entries"].values())
    assert not [p.name for p in table.parent.iterdir() if p.name.endswith(".tmp")]  # no leftovers


def test_the_lock_is_exclusive_between_processes(tmp_path: Path) -> None:
    """While one process holds the table's lock, another's record waits for it."""
    table = tmp_path / autobackend.TABLE_NAME
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from genedit_core import autobackend
        from genedit_core.cards import ModelCard
        card = ModelCard(name="late", tasks=("upscale",), family="toy", summary="t", plugin="lock")
        autobackend.record_backend_times(card, 2, "cpu", "fp32", (8, 8), {"torch": 1.0}, path=Path(sys.argv[1]))
        print(time.time())
        """
    )
    with autobackend.table_lock(table):
        proc = subprocess.Popen([sys.executable, "-c", script, str(table)], stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)  # the other process has long reached the lock by now
        assert proc.poll() is None, "the other writer did not wait for the lock"
        assert not table.exists()
        released = time.time()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert float(out) >= released
    assert [e["model"] for e in autobackend.read_table(table).values()] == ["lock:late x2"]
