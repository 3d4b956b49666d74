"""`veta mdopi …`: assess deposits, record societal scores, designate safeguarding areas."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import database_url, os_user

mdopi_app = typer.Typer(
    help="Mineral deposits of public importance (MDoPI) and safeguarding areas.",
    no_args_is_help=True,
)

METHOD_HELP = (
    "A TOML method file (default: the bundled default method, geo/planning/default_method.toml)."
)


def _engine():
    from geo.store.db import sync_engine

    return sync_engine(database_url())


def _fail(error) -> None:
    typer.echo(f"error: {error.detail}", err=True)
    raise typer.Exit(1)


@mdopi_app.command("assess")
def assess_command(method: Path = typer.Option(None, "--method", help=METHOD_HELP)) -> None:
    """Assess every deposit under the method; each run adds assessments, keeping the old ones."""
    import time

    from geo.core.errors import VetaError
    from geo.planning.assessment import assess
    from geo.planning.method import load_method

    try:
        m = load_method(method)
    except VetaError as e:
        _fail(e)
    engine = _engine()
    started = time.perf_counter()
    with engine.begin() as conn:
        n = assess(conn, m)
        classes = conn.exec_driver_sql(
            "SELECT mdopi_class, count(*) FROM deposit_assessments WHERE method_version = %(v)s "
            "AND assessed_at = now() GROUP BY 1",
            {"v": m.version},
        ).all()
    seconds = time.perf_counter() - started
    typer.echo(
        f"assessed {n} deposits with {m.name} {m.version} in {seconds:.2f} s "
        f"({n / seconds if seconds else 0:,.0f} deposits/s)"
    )
    for klass, count in sorted(classes, key=lambda r: _rank(r[0])):
        typer.echo(f"  {klass}: {count}")


def _rank(klass: str) -> int:
    from geo.core.vocabulary import MDOPI_CLASSES

    return MDOPI_CLASSES.index(klass)


@mdopi_app.command("safeguard")
def safeguard_command(
    method: Path = typer.Option(None, "--method", help=METHOD_HELP),
    classes: str = typer.Option(
        None, "--classes", help="Comma-separated MDoPI classes (default: the method's)."
    ),
) -> None:
    """Designate safeguarding areas for deposits of the chosen classes, replacing the previous generation."""
    from geo.core.errors import VetaError
    from geo.planning.method import load_method
    from geo.planning.safeguarding import parse_classes, safeguard

    try:
        m = load_method(method)
        chosen = parse_classes(classes, m)
        with _engine().begin() as conn:
            g = safeguard(conn, m, chosen)
    except VetaError as e:
        _fail(e)
    ended = f"; generation {', '.join(map(str, g.superseded))} ended" if g.superseded else ""
    typer.echo(
        f"generation {g.id}: {g.areas} safeguarding areas for {g.deposits} deposits "
        f"({', '.join(chosen)}){ended}"
    )


@mdopi_app.command("set-societal")
def set_societal(
    deposit: int = typer.Argument(..., help="The deposit's id."),
    score: float = typer.Argument(
        ..., help="The societal score, 0-100 (50 is neutral in the default method)."
    ),
    note: str = typer.Option(None, help="Why: consultation, local agreement, opposition …"),
) -> None:
    """Record the societal score the authority gives a deposit (used by the next assessment)."""

    if not 0 <= score <= 100:
        typer.echo(f"error: score: {score:g} is out of range (allowed: 0 to 100)", err=True)
        raise typer.Exit(1)
    with _engine().begin() as conn:
        if not conn.exec_driver_sql(
            "SELECT 1 FROM deposits WHERE id = %(d)s", {"d": deposit}
        ).first():
            typer.echo(f"error: deposit: no deposit with id {deposit}", err=True)
            raise typer.Exit(1)
        conn.exec_driver_sql(
            "INSERT INTO deposit_societal_scores (deposit_id, score, recorded_by, note) "
            "VALUES (%(d)s, %(s)s, %(u)s, %(n)s) ON CONFLICT (deposit_id) DO UPDATE SET score = EXCLUDED.score, "
            "recorded_on = current_date, recorded_by = EXCLUDED.recorded_by, note = EXCLUDED.note",
            {"d": deposit, "s": score, "u": os_user(), "n": note},
        )
    typer.echo(f"deposit {deposit}: societal score {score:g}")
