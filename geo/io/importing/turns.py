"""One writer per layer: imports of the same layer take turns on an advisory lock.

Two imports of one layer at once would each hold the table and then both ask for it alone
(DROP INDEX before a bulk load), and PostgreSQL would end one with "deadlock detected". The
lock is taken first in the writing transaction and released when it commits or rolls back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection


def wait_for_turn(conn: Connection, layer: str, waiting: Callable[[str], None]) -> float:
    """Take the layer's import lock, telling `waiting` first if another import holds it;
    returns the seconds waited."""
    key = {"key": f"veta import {layer}"}
    if conn.execute(text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), key).scalar():
        return 0.0
    waiting(f"another import is writing layer {layer}; waiting for it to finish")
    started = time.monotonic()
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), key)
    return time.monotonic() - started
