"""What every command group shares: the database URL, the OS user, how an error is reported."""

from __future__ import annotations

import gc
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from geo.core.settings import get_settings


def database_url() -> str:
    """The database the command works on (the local cluster's, unless DATABASE_URL is set)."""
    from geo.store.db import database_url as url_of

    return url_of(get_settings())


def os_user() -> str:
    """Who runs the command, for the records it writes (registry history, assessments)."""
    return getpass.getuser()


@contextmanager
def loading_modules() -> Iterator[None]:
    """Import a command's modules with the cyclic garbage collector paused, then set what they
    made aside for good. The import pipeline's modules (pandas, SQLAlchemy, pyarrow, shapely …)
    make some 220,000 objects that live as long as the process and are never garbage; the
    collector scanned them over and over while they were made (two full collections and
    hundreds of young ones: ~0.1 s of an import's start-up), and every full collection after
    them, while the rows are validated, would scan them all again (`gc.freeze`)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def end_process(code: int) -> NoReturn:
    """End a command whose work is committed and whose output is written, without the
    interpreter's teardown (0.4–0.6 s after an import: freeing every module, GDAL's and the
    other extensions' clean-up), which changes nothing the command did.

    Skipping it is safe for the import commands: the only exit handlers registered by then are
    logging's (run here), certifi's (it removes a certificate file extracted from a zip, which
    an import never extracts), concurrent.futures' (it joins executors' threads, and an import
    starts none: its copying thread has been joined) and weakref finalizers marked for exit
    (none: the import's finalizers are linecache's, not run at exit anyway). The database
    connection has been closed by then (the engine is disposed). Under a test's runner
    (CliRunner, or pytest capturing output) sys.stdout is not the process's own: there the
    command ends as any other, so that the runner sees its exit code and output."""
    if sys.stdout is not sys.__stdout__ or sys.stderr is not sys.__stderr__:
        raise typer.Exit(code)
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the process was started without that stream
                stream.flush()
        except OSError:  # a closed pipe: what is lost is lost either way
            pass
    os._exit(code)
