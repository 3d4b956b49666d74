"""The `veta` command line, one module per group of commands; it may use everything in geo and
api's server, and nothing imports it."""

from __future__ import annotations

import typer

from cli import access, db, files, planning, rasters, registry, screening
from cli.common import os_user
from geo.core.i18n import language_of_environment, use_language
from geo.store.viewer import VIEWER, Viewer

app = typer.Typer(
    help="Veta: deposits, mining rights and protection zones of Castilla y León.",
    no_args_is_help=True,
)


# Commands that write tables from files and read no collection: they skip the catalogue's
# imports (the query builders, the cuadrícula), start-up being part of every import's time.
_WITHOUT_CATALOG = ("import", "import-catastro")


@app.callback()
def _start(ctx: typer.Context) -> None:
    """Veta: deposits, mining rights and protection zones of Castilla y León."""
    # Messages in VETA_LANG or the POSIX locale's language (es_ES.UTF-8: Spanish).
    use_language(language_of_environment())
    # The collections exports and tiles read are registered here, explicitly, as the app does.
    if ctx.invoked_subcommand not in _WITHOUT_CATALOG:
        from geo.catalog import register_catalog

        register_catalog()
    # Every write a command makes is audited as the OS user's, through the command line.
    VIEWER.set(Viewer(actor=os_user(), channel="cli"))


for commands in (db.app, files.app, rasters.app, screening.app):
    app.registered_commands += commands.registered_commands
app.add_typer(db.db_app, name="db")
app.add_typer(access.orgs_app, name="orgs")
app.add_typer(access.keys_app, name="keys")
app.add_typer(registry.grid_app, name="grid")
app.add_typer(registry.permits_app, name="permits")
app.add_typer(rasters.raster_app, name="raster")
app.add_typer(planning.mdopi_app, name="mdopi")
