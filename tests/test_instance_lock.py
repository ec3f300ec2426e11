"""One ``run`` per SQLite file: a second one stops at start, in one line naming the first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from marketmem import cli
from marketmem.storage.sqlite.instance import InstanceRunning, hold_instance, lock_path


def test_a_held_database_names_its_instance(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with hold_instance(db, "alpha"):
        with pytest.raises(InstanceRunning) as refused, hold_instance(db, "beta"):
            pass
        assert f"alpha (pid {os.getpid()})" in str(refused.value)
    with hold_instance(db, "beta"):  # released on exit: the next one may start
        assert '"instance": "beta"' in lock_path(db).read_text()


def test_a_second_run_on_one_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "m.db"
    conf = tmp_path / "c.toml"
    conf.write_text(f'[storage]\npath = "{db}"\n[http]\nenabled = false\n')
    with hold_instance(db, "ingest-a"):
        code = cli.main(["--config", str(conf), "run", "--duration", "1"])
    _, err = capsys.readouterr()
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"marketmem: cannot start: {db} is in use by the running")
    assert "ingest-a" in lines[-1] and "Traceback" not in err
    assert not db.exists()  # refused before the database was opened
