"""Import historical events from NDJSON or CSV through the ingestion pipeline, resumably.

    manage.py import_events --project shop --environment production events.ndjson
    manage.py import_events --project shop --environment production export.csv --format csv

Each line is checked exactly as ``POST /track`` checks an event (``analytics.ingest.importer``), and
written in batches, one transaction each, exactly once by message id. Exit codes: 0 every line was
stored (or already was), 1 some lines were rejected (see ``<file>.rejected.ndjson``), 2 bad
arguments (unknown project or environment, unreadable file), 3 the database failed part-way (rerun
to resume), 130 interrupted (rerun to resume).
"""

import argparse
import signal
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from analytics.ingest.importer import FORMATS, Importer, ImportRefused, describe_checkpoint, resolve_target

USAGE_ERROR = 2
SOME_REJECTED = 1
FAILED = 3
INTERRUPTED = 130


def _batch_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 50_000:
        raise argparse.ArgumentTypeError("must be between 1 and 50000")
    return value


class Command(BaseCommand):
    help = "Import historical events (NDJSON or CSV) through the same validation as the API, resumably."

    def add_arguments(self, parser):
        parser.add_argument("file", help="an NDJSON file (one native event object per line) or a CSV file")
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--environment", required=True, help="the environment's slug")
        parser.add_argument(
            "--format", choices=FORMATS, help="ndjson or csv (default: from the file name, else ndjson)"
        )
        parser.add_argument("--batch-size", type=_batch_size, default=1000, help="events per transaction")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check every line, write nothing (no checkpoint, no rejects file)",
        )
        parser.add_argument("--restart", action="store_true", help="ignore a saved checkpoint: start over")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        # Tests: stop as if interrupted after this many batches.
        parser.add_argument("--limit-batches", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        path = Path(options["file"])
        fmt = options["format"] or ("csv" if path.suffix.lower() in (".csv", ".tsv") else "ndjson")
        if not path.is_file():
            raise CommandError(f"{path}: no such file.", returncode=USAGE_ERROR)
        try:
            project, environment = resolve_target(options["project"], options["environment"])
            importer = Importer(
                path,
                project=project,
                environment=environment,
                fmt=fmt,
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
            )
            importer.load_checkpoint(restart=options["restart"])
        except ImportRefused as refusal:
            raise CommandError(str(refusal), returncode=USAGE_ERROR) from None

        resume_command = self._resume_command(options)
        if importer.ignored_checkpoint:
            self.stdout.write(f"Checkpoint ignored: {importer.ignored_checkpoint}.")
        if importer.resumed_from is not None:
            self.stdout.write(
                f"Resuming {path} from the checkpoint at {describe_checkpoint(importer.resumed_from)} "
                f"(--restart to start over)."
            )
        where = f"{project.slug}/{environment.slug}"
        self.stdout.write(
            f"{'Checking' if options['dry_run'] else 'Importing'} {path} ({fmt}) into {where}, "
            f"{options['batch_size']} events per batch."
        )

        started = time.monotonic()
        read_before = importer.counts.read
        progress, on_batch = (
            (None, None) if options["quiet"] else self._progress(importer, started, read_before)
        )
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._interrupt_handler(importer))
        try:
            if progress:
                progress.start()
            finished = importer.run(on_batch=on_batch, limit_batches=options["limit_batches"])
        except ImportRefused as refusal:
            raise CommandError(str(refusal), returncode=USAGE_ERROR) from None
        except DatabaseError as error:
            raise CommandError(
                f"The database refused a batch ({error}); that batch was not kept. Fix the cause, then "
                f"resume from {describe_checkpoint(importer.checkpoint)} with: {resume_command}",
                returncode=FAILED,
            ) from None
        finally:
            if progress:
                progress.stop()
            signal.signal(signal.SIGINT, previous)

        if importer.unknown_columns:
            self.stdout.write(f"Ignored CSV columns: {', '.join(importer.unknown_columns)}.")
        elapsed = max(time.monotonic() - started, 1e-9)
        self._summary(importer, elapsed, importer.counts.read - read_before)
        if not finished:
            self.stdout.write(
                f"Stopped after line {importer.checkpoint.line:,}: every line up to it is stored, quarantined or "
                f"rejected. "
                f"Resume with: {resume_command}"
            )
            raise CommandError("Import interrupted; rerun to resume.", returncode=INTERRUPTED)
        if importer.counts.rejected:
            raise CommandError(
                f"{importer.counts.rejected:,} lines were rejected"
                + ("." if options["dry_run"] else f": see {importer.rejects_file}"),
                returncode=SOME_REJECTED,
            )

    # --- output ----------------------------------------------------------------------------------

    def _progress(self, importer: Importer, started: float, read_before: int):
        """The progress bar (on stderr) and the function that updates it after each batch."""
        console = Console(file=sys.stderr)
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            TextColumn(
                "{task.fields[read]:,} lines · [green]{task.fields[stored]:,} stored[/] · "
                "[yellow]{task.fields[quarantined]:,} quarantined[/] · [red]{task.fields[rejected]:,} rejected[/] · "
                "{task.fields[rate]:,.0f} lines/s"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        counts = importer.counts
        task = progress.add_task(
            importer.path.name,
            total=importer.checkpoint.size,
            completed=importer.checkpoint.offset,
            read=counts.read,
            stored=counts.stored + counts.would_store,
            quarantined=counts.quarantined,
            rejected=counts.rejected,
            rate=0.0,
        )

        def update(importer: Importer) -> None:
            counts = importer.counts
            progress.update(
                task,
                completed=importer.checkpoint.offset,
                read=counts.read,
                stored=counts.stored + counts.would_store,
                quarantined=counts.quarantined,
                rejected=counts.rejected,
                rate=(counts.read - read_before) / max(time.monotonic() - started, 1e-9),
            )

        return progress, update

    def _interrupt_handler(self, importer: Importer):
        def interrupted(signum, frame):
            importer.stop()
            self.stderr.write("\nStopping after the current batch (Ctrl-C again to abort it now)...")
            signal.signal(signal.SIGINT, signal.default_int_handler)

        return interrupted

    def _summary(self, importer: Importer, elapsed: float, read_now: int) -> None:
        counts = importer.counts
        lines = [
            f"{counts.read:,} lines read ({read_now / elapsed:,.0f} lines/s over {elapsed:,.1f} s this run)"
        ]
        if importer.dry_run:
            lines.append(f"{counts.would_store:,} would be stored (dry run: nothing written)")
        else:
            lines.append(f"{counts.stored:,} stored")
            lines.append(f"{counts.duplicates:,} already stored (skipped)")
        lines.append(f"{counts.quarantined:,} quarantined by the tracking plan (block policy)")
        rejected = f"{counts.rejected:,} rejected"
        if counts.rejected and not importer.dry_run:
            rejected += f": {importer.rejects_file}"
        lines.append(rejected)
        if counts.blank:
            lines.append(f"{counts.blank:,} blank lines skipped")
        self.stdout.write("\n".join(lines))
        for rejection in importer.sample_rejections:
            self.stdout.write(f"  line {rejection.line}: {rejection.reason}: {rejection.message}")

    @staticmethod
    def _resume_command(options) -> str:
        parts = [
            "manage.py import_events",
            "--project",
            options["project"],
            "--environment",
            options["environment"],
        ]
        if options["format"]:
            parts += ["--format", options["format"]]
        if options["batch_size"] != 1000:
            parts += ["--batch-size", str(options["batch_size"])]
        parts.append(options["file"])
        return " ".join(parts)
