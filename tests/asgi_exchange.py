"""An app driven through ASGI as uvicorn drives it, on a one-connection pool whose statements
are recorded: so that every request meets the connection the one before it used, and a test
sees what each sent and when."""

from __future__ import annotations

import asyncio

import asyncpg

# What a pooled connection carries of a viewer: the settings row-level security reads, and
# whether a transaction is open and read-only.
SETTINGS_READ = (
    "SELECT current_setting('veta.org', true), current_setting('veta.role', true), "
    "current_setting('transaction_read_only')"
)


def recording_app(settings, monkeypatch, **updates):
    """The app on a one-connection pool (and no tile cache, unless `updates` say otherwise),
    and the list every statement its connections send is appended to."""
    from api.app import create_app

    sent: list[str] = []
    real = asyncpg.create_pool

    def recording_pool(*args, **kwargs):
        async def record(conn):
            conn.add_query_logger(lambda record: sent.append(record.query))

        return real(*args, **{**kwargs, "init": record, "min_size": 1})

    monkeypatch.setattr(asyncpg, "create_pool", recording_pool)
    app = create_app(
        settings.model_copy(
            update={"db_pool_max": 1, "db_pool_min": 1, "tile_cache_mb": 0, **updates}
        )
    )
    return app, sent


class Exchange:
    """One GET through ASGI as uvicorn makes it: the answer's messages as they are sent."""

    def __init__(self, app, path: str, key: str | None = None, hang_up_after: int | None = None):
        self.app = app
        path, _, query = path.partition("?")
        headers = [(b"host", b"testserver")]
        if key is not None:
            headers.append((b"authorization", f"Bearer {key}".encode()))
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.status = 0
        self.body = b""
        self.chunks = 0
        self.hang_up_after = hang_up_after
        self.gone = asyncio.Event()
        self.answered = asyncio.Event()
        self.requested = False

    async def receive(self) -> dict:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self.chunks += 1
            if self.hang_up_after is not None and self.chunks >= self.hang_up_after:
                self.gone.set()
            if not message.get("more_body", False):
                self.answered.set()

    async def run(self):
        await self.app(self.scope, self.receive, self.send)
        return self


def serve(app, body):
    async def main():
        async with app.router.lifespan_context(app):
            return await body()

    return asyncio.run(main())


async def connection_now(app) -> tuple:
    """What the pool's one connection holds between requests: settings, transaction."""
    async with app.state.pool.acquire() as conn:
        return (*await conn.fetchrow(SETTINGS_READ), conn.is_in_transaction())
