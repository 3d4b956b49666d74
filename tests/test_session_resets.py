"""A use of a pooled connection whose statements change nothing in the session gives it back
without the reset round trip (RESET ALL and the rest): the `area` lookup and the remembered
counts' read of the change counters, on every list that takes them. Driven through ASGI on a
one-connection pool, every statement recorded."""

from __future__ import annotations

import asyncio

from asgi_exchange import Exchange, recording_app, serve

ITEMS = "/collections/deposits/items?area=24&limit=5"


def _statements(app, sent, path) -> list[str]:
    """What a request sends once the remembered count is there (a request before it made it)."""

    async def body():
        assert (await Exchange(app, path).run()).status == 200
        sent.clear()
        answered = await asyncio.wait_for(Exchange(app, path).run(), 30)
        await asyncio.sleep(0.01)  # the query log's callbacks
        assert answered.status == 200
        return list(sent)

    return serve(app, body)


def test_lookups_that_change_nothing_send_no_reset(settings, monkeypatch):
    app, sent = recording_app(settings, monkeypatch)
    statements = _statements(app, sent, ITEMS)
    reads = {
        "area": next(i for i, q in enumerate(statements) if "FROM admin_areas" in q),
        "counters": next(i for i, q in enumerate(statements) if "FROM table_changes" in q),
        "page": next(i for i, q in enumerate(statements) if "FROM deposits t" in q),
    }
    reset_after = {
        read: i + 1 < len(statements) and "RESET ALL" in statements[i + 1]
        for read, i in reads.items()
    }
    # The page's use is reset as before: it is not one of the lookups marked as changing nothing.
    assert reset_after == {"area": False, "counters": False, "page": True}, statements
