"""Settings read once at start-up from the environment (prefix VETA_, plus DATABASE_URL)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything configurable about a Veta instance."""

    model_config = SettingsConfigDict(env_prefix="VETA_", extra="ignore")

    # A plain libpq URL (postgresql://user@host:port/db). Empty: the local cluster under .veta/.
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "VETA_DATABASE_URL")
    )
    # The URL the service connects with: the role `veta_service` that migration 0014 creates (no
    # superuser, owner of nothing, under row-level security). Empty: DATABASE_URL's server and
    # database as veta_service without a password (the local cluster trusts loopback).
    service_database_url: str = ""
    # PostgreSQL streaming replicas of that database, comma-separated libpq URLs: read-only
    # requests are served there, writes on the primary (geo/store/routed_pool.py). Like
    # DATABASE_URL they are connected to as veta_service, unless VETA_SERVICE_DATABASE_URL is
    # set: then they are used as given (naming the service role and its password).
    read_database_urls: Annotated[list[str], NoDecode] = []
    # A replica further behind the primary than this is left aside until it catches up, and
    # how often each process checks its replicas (up or down, how far behind).
    replica_max_lag_s: float = Field(default=30.0, gt=0)
    replica_check_s: float = Field(default=0.5, gt=0)
    # Where the local development cluster lives when DATABASE_URL is not given.
    state_dir: Path = PROJECT_ROOT / ".veta"
    host: str = "127.0.0.1"
    port: int = 8000
    # Server processes for `veta serve`; the count and tile caches stay correct across them (keyed
    # on the tables' change counters in the database, not on anything one process saw).
    workers: int = Field(default=1, ge=1)
    # Public base URL for links (https://veta.example.org, or with a path prefix); empty: taken
    # from each request's Host header, which the client chooses: set it in production.
    base_url: str = ""
    # The Host header values answered (names, or `*.example.org` for subdomains; any port);
    # other hosts get 400. Empty: any well-formed host[:port]. VETA_ALLOWED_HOSTS='["veta.example.org"]'.
    allowed_hosts: list[str] = []
    # Web pages of these origins may call the API from a browser (CORS); "*": any, as befits an
    # open read service; an empty list: none (VETA_CORS_ORIGINS='["https://maps.example.org"]').
    cors_origins: list[str] = ["*"]
    # Web pages of these origins may also send credentials (an API key or token); pages of any
    # other origin but Veta's own get 403 when they do.
    cors_credentialed_origins: list[str] = []

    # OpenID Connect: tokens of this provider are accepted beside API keys (geo/access/oidc.py).
    # Empty JWKS URL: API keys only. The claims naming the caller's organisation (its code in
    # Veta) and role (reader, editor, registry or admin).
    oidc_jwks_url: str = ""
    oidc_issuer: str = ""
    oidc_audience: str = "veta"
    oidc_org_claim: str = "org"
    oidc_role_claim: str = "veta_role"
    oidc_jwks_cache_s: int = 3600

    default_limit: int = 100
    max_limit: int = 10_000
    # Exact counts (numberMatched) remembered until their tables change (geo/store/counts.py); 0: none.
    count_cache_size: int = 1024
    # API keys each process remembers after looking them up (api/auth.py); a read then confirms
    # its key inside its own first transaction instead of a lookup of its own. 0: none.
    remembered_keys: int = 10_000
    # Vector tiles remembered until their tables change (api/tile_cache.py), in MiB; 0: none.
    tile_cache_mb: int = 64
    db_pool_min: int = 1
    db_pool_max: int = 10
    # What sits between the service and PostgreSQL: "none" (it connects directly, or through a
    # session-mode pool) or "pgbouncer" (PgBouncer in transaction mode: no prepared statements
    # kept, every setting local to a transaction; geo/store/pooler.py).
    database_pooler: Literal["none", "pgbouncer"] = "none"

    # Cuadrículas allowed per mining right, by right type: (minimum, maximum or None). docs/domain.md:
    # commonly cited, unverified figures; set VETA_RIGHT_CELL_LIMITS (JSON) per authority.
    right_cell_limits: dict[str, tuple[int, int | None]] = {
        "exploration": (300, 3000),
        "investigation": (1, 300),
        "exploitation_derived": (1, None),
        "exploitation_direct": (1, None),
    }
    # Most grid cells one request may generate (/grid/cells, /grid/free).
    grid_max_cells: int = 100_000
    # Site screening: the largest site one request may screen (km², geodesic), and the most
    # sites one batch may hold.
    screening_max_area_km2: float = 5_000.0
    screening_max_batch: int = 10_000

    # Hostile input (geo/core/limits.py, api/guard.py, geo/store/timed_pool.py). The most vertices one
    # geometry of a request may have (BBOX, filter literals, sites, plans).
    geometry_max_vertices: int = 10_000
    # Coordinates must lie within their CRS's area of use (EPSG) widened by this many degrees.
    crs_area_margin_deg: float = 5.0
    # The longest URL (path and query) and request body accepted; longer: 414, larger: 413.
    max_url_bytes: int = 32_768
    max_body_mb: float = 16.0
    # Files uploaded to POST /imports may be larger: refused above this, before being read.
    import_max_mb: float = 512.0
    # Statement timeout by kind of request (seconds; answered 503 with Retry-After), the
    # Retry-After advised, and how long to wait for the database before answering 503.
    statement_timeout_read_s: float = 15.0
    statement_timeout_screening_s: float = 30.0
    statement_timeout_batch_s: float = 300.0
    statement_timeout_export_s: float = 600.0
    retry_after_s: int = 10
    db_connect_timeout_s: float = 1.0
    # Kept screening reports are printed to PDF by this headless Chromium (a path or a command
    # on PATH; `make deps` installs Debian's).
    chromium: str = "chromium"
    # PDFs printed at once (each a Chromium process of some 100 MB); more wait their turn.
    pdf_max_concurrent: int = 2
    # Rasters (geo/rasters/): where their COGs are kept (empty: <state_dir>/rasters), the largest
    # file `veta raster add` accepts, the most points one sampling request may hold and the most
    # cells one constraint map may have.
    raster_dir: Path | None = None
    raster_max_file_mb: int = 4096
    raster_max_points: int = 10_000
    constraints_max_cells: int = 250_000_000
    # Processes one batch of zonal statistics may spread over (0: every CPU; 1: in process).
    raster_workers: int = Field(default=0, ge=0)
    # The most zones one batch of zonal statistics may hold (features of a FeatureCollection or
    # deposits of a search): POST /rasters/{name}/statistics and `veta raster statistics`.
    raster_max_zones: int = Field(default=10_000, ge=1)

    @field_validator("read_database_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return Settings()
