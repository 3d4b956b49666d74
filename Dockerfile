# Veta's HTTP service. The database is a separate PostGIS (see compose.yaml).
# Build stage: wheels for Veta and its dependencies (compilers stay here, not in the image).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY cli cli
COPY geo geo
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .

# Runtime stage: the virtualenv, the files Veta reads beside its packages, and Chromium (kept
# reports are printed as PDF by headless Chromium); no build tools, no tests.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH VETA_HOST=0.0.0.0 VETA_PORT=8000 \
    VETA_WORKERS=2
RUN apt-get update && apt-get install -y --no-install-recommends chromium curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 veta
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# An editable-style layout: Veta finds migrations/, sample_data/ and its packages under /app.
COPY --chown=root:root alembic.ini babel.cfg pyproject.toml ./
COPY --chown=root:root api api
COPY --chown=root:root cli cli
COPY --chown=root:root geo geo
COPY --chown=root:root migrations migrations
COPY --chown=root:root sample_data sample_data
ENV PYTHONPATH=/app
USER veta
EXPOSE 8000
# Ready: database reachable, schema at the newest migration, pool not exhausted.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/readyz >/dev/null || exit 1
# Migrate, load the León sample on first start, then serve with VETA_WORKERS processes.
CMD ["sh", "-c", "veta db upgrade && veta load-sample --if-empty && exec veta serve"]
