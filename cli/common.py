"""What every command group shares: the database URL, the OS user, how an error is reported."""

from __future__ import annotations

import getpass

from geo.core.settings import get_settings


def database_url() -> str:
    """The database the command works on (the local cluster's, unless DATABASE_URL is set)."""
    from geo.store.db import database_url as url_of

    return url_of(get_settings())


def os_user() -> str:
    """Who runs the command, for the records it writes (registry history, assessments)."""
    return getpass.getuser()
