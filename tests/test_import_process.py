"""`veta import` run as a real process: it ends with os._exit once its work is committed and its
report written (no interpreter teardown), and its exit status, its output and its JSON report
are still complete and right."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from geo.core.settings import PROJECT_ROOT

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end

# The command as the `veta` script runs it, with an exit handler that a normal interpreter exit
# would run: it prints nothing when the import ends the process itself.
_VETA = (
    "import atexit, sys; atexit.register(lambda: print('TEARDOWN', file=sys.stderr)); "
    "from cli import app; sys.argv[0] = 'veta'; app()"
)


def veta(db_url: str, *args) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "VETA_LANG": "en",
        "PYTHONPATH": str(PROJECT_ROOT),
        "COLUMNS": "200",  # the report on one line per fact
    }
    return subprocess.run(
        [sys.executable, "-c", _VETA, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored(engine, source: str) -> list[tuple[str, float, float]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT source_id, ST_X(geom), ST_Y(geom) FROM deposits "
                    "WHERE source = :s ORDER BY source_id"
                ),
                {"s": source},
            )
        ]


def test_a_written_import_exits_0_with_its_report_and_skips_the_teardown(db_url, engine, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text(
        "source_id,name,commodities,lon,lat\np1,Uno,W,-5.6,42.6\np2,Dos,Sn;W,-6.1,42.9\n"
    )
    report = tmp_path / "report.json"
    done = veta(
        db_url, "import", path, "--layer", "deposits", "--source", "t-proc", "--report", report
    )
    assert done.returncode == 0, done.stderr
    assert "TEARDOWN" not in done.stderr  # the process ended itself after flushing
    assert "written" in done.stderr and "inserted 2" in done.stderr
    written = json.loads(report.read_text())  # written whole before the process ended
    assert written["outcome"] == "written" and written["inserted"] == 2
    assert stored(engine, "t-proc") == [("p1", -5.6, 42.6), ("p2", -6.1, 42.9)]
    with engine.connect() as conn:  # the run recorded, and no session of it left behind
        assert (
            conn.execute(
                text(
                    "SELECT outcome FROM import_runs WHERE source = 't-proc' ORDER BY id DESC LIMIT 1"
                )
            ).scalar_one()
            == "written"
        )


def test_a_refused_import_exits_1_names_the_problem_and_writes_nothing(db_url, engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "source_id,name,commodities,lon,lat\nr1,Uno,W,-5.6,42.6\nr2,Dos,unobtainium,-6.1,42.9\n"
    )
    done = veta(db_url, "import", path, "--layer", "deposits", "--source", "t-proc-bad")
    assert done.returncode == 1, done.stderr
    assert "TEARDOWN" not in done.stderr
    assert "refused" in done.stderr and "unobtainium" in done.stderr
    assert stored(engine, "t-proc-bad") == []


def test_an_unreadable_file_exits_2_with_the_error(db_url, tmp_path):
    done = veta(
        db_url, "import", tmp_path / "missing.gpkg", "--layer", "deposits", "--source", "t-x"
    )
    assert done.returncode == 2
    assert "TEARDOWN" not in done.stderr
    assert "no such file or folder" in done.stderr


def test_another_command_still_ends_through_the_interpreter(db_url, tmp_path):
    # Only the import commands skip the teardown.
    done = veta(db_url, "grid", "--help")
    assert done.returncode == 0 and "TEARDOWN" in done.stderr


def test_a_commands_modules_load_with_the_collector_paused_and_it_runs_with_it():
    import gc

    from cli.common import loading_modules

    frozen = gc.get_freeze_count()
    try:
        with loading_modules():
            assert not gc.isenabled()
            loaded = [[n] for n in range(1_000)]  # what importing a module leaves behind
        # Collected as usual from then on; what was loaded is set aside, never scanned again.
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(loaded)
    finally:
        gc.unfreeze()
