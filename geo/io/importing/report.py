"""What an import found and did: every problem with its row, and the counts, as JSON or a table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@dataclass(frozen=True)
class Problem:
    """Why one row (1-based, in file order) cannot be loaded; row None: the file as a whole."""

    row: int | None
    source_id: str | None
    field: str
    reason: str


@dataclass(frozen=True)
class Repair:
    """What --repair did to one row's geometry."""

    row: int
    source_id: str | None
    reason: str
    action: str


@dataclass
class ImportReport:
    """The outcome of one run; rows_read always equals loaded + rejected when written."""

    file: str
    layer: str
    source: str
    outcome: str = "refused"
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    # CRS found, CRS used and the transformation PROJ chose (with its accuracy).
    crs: dict = field(default_factory=dict)
    mapping: str = ""
    # Columns of the file no field was mapped from: named so that nothing is dropped unseen.
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return {**asdict(self), "loaded": self.loaded}


def print_report(report: ImportReport, console: Console) -> None:
    """The report on screen: counts, notes, then one line per problem and per repair."""
    if report.outcome == "dry_run":  # nothing was compared with the stored records
        counts = (
            f"read {report.rows_read}, valid {report.rows_read - report.rejected}, "
            f"rejected {report.rejected}, nothing written"
        )
    else:
        counts = (
            f"read {report.rows_read}, inserted {report.inserted}, updated {report.updated}, "
            f"unchanged {report.unchanged}, deleted {report.deleted}, rejected {report.rejected}"
        )
    console.print(
        f"[bold]{escape(report.file)}[/] → {report.layer} (source {escape(report.source)}): "
        f"[bold]{report.outcome}[/]; {counts} "
        f"in {report.seconds:.1f} s ({report.rows_read / max(report.seconds, 1e-9):,.0f} rows/s)"
    )
    if report.crs:
        console.print(escape("CRS: " + ", ".join(f"{k} {v}" for k, v in report.crs.items())))
    for note in report.notes:
        console.print(escape(f"note: {note}"))
    if report.ignored_columns:
        console.print(escape("columns not imported: " + ", ".join(report.ignored_columns)))
    for title, rows in (
        ("Problems", [(p.row, p.source_id, p.field, p.reason) for p in report.problems]),
        ("Repairs", [(r.row, r.source_id, r.reason, r.action) for r in report.repairs]),
    ):
        if not rows:
            continue
        table = Table(title=f"{title} ({len(rows)})", show_lines=False)
        headers = ("field", "reason") if title == "Problems" else ("was", "done")
        for column in ("row", "source id", *headers):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("" if x is None else escape(str(x)) for x in row))
        console.print(table)
