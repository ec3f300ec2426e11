"""Operations commands: ``backup PATH``, an online, consistent copy of the database.

It runs beside a live ``run`` (read-only connection, no writer involved); see
``marketmem.storage.backup`` for how the copy stays consistent. Failures exit 1 with one line.
It copies the SQLite file; a PostgreSQL database is the server's to back up (``pg_dump``), and
the command says so instead of copying a SQLite file the service does not use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marketmem.config import Config
from marketmem.progress import Progress
from marketmem.storage import engine
from marketmem.storage.backup import (
    DEFAULT_PAUSE_S,
    DEFAULT_STEP_PAGES,
    BackupError,
    backup_database,
)
from marketmem.usage import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup", help="write an online, consistent copy of the database to PATH (a new file)"
    )
    p.add_argument("path", help="file to write; refused if it exists (unless --force)")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    p.add_argument(
        "--step-pages",
        type=int,
        default=DEFAULT_STEP_PAGES,
        metavar="N",
        help=f"pages copied per step (default {DEFAULT_STEP_PAGES})",
    )
    p.add_argument(
        "--pause-ms",
        type=float,
        default=DEFAULT_PAUSE_S * 1000,
        metavar="MS",
        help=f"pause between steps (default {DEFAULT_PAUSE_S * 1000:g})",
    )
    p.add_argument(
        "--no-verify", action="store_true", help="skip PRAGMA integrity_check of the copy"
    )
    p.set_defaults(func=cmd_backup)


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"


POSTGRES_BACKUP = (
    "marketmem: backup copies a SQLite file; this database is PostgreSQL ({url}): "
    "use pg_dump (e.g. pg_dump -Fc -f marketmem.dump URL) or pg_basebackup "
    "(e.g. pg_basebackup -d URL -D DIR -X stream)"
)


def cmd_backup(args: argparse.Namespace, config: Config) -> int:
    if engine.is_postgres(config.database()):
        print(POSTGRES_BACKUP.format(url=engine.display(config.database())), file=sys.stderr)
        return 1
    if args.step_pages < 1:
        raise UsageError("--step-pages must be at least 1")
    if args.pause_ms < 0:
        raise UsageError("--pause-ms must not be negative")
    try:
        # The progress line is closed (newline) before any message below is printed.
        with Progress(label="backup", unit="pages", stream=sys.stderr) as progress:

            def on_step(copied: int, total: int) -> None:
                progress.set_total(total)
                progress.advance(copied - progress.done)

            result = backup_database(
                config.db_path(),
                Path(args.path),
                force=args.force,
                step_pages=args.step_pages,
                pause_s=args.pause_ms / 1000,
                busy_timeout_ms=config.storage.busy_timeout_ms,
                verify=not args.no_verify,
                on_step=on_step,
            )
    except BackupError as exc:
        print(f"marketmem: backup failed: {exc}", file=sys.stderr)
        return 1
    checked = "integrity_check ok" if not args.no_verify else "not verified"
    print(
        f"backup {result.path}: {result.pages} pages copied, {human_size(result.size_bytes)} "
        f"({result.size_bytes} bytes) in {result.elapsed_s:.2f}s; {checked}"
    )
    return 0
