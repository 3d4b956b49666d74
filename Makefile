# Veta: `make run` serves on http://127.0.0.1:8000, `make test` runs the whole suite.
# Both set up everything first: system packages (when missing), the virtualenv, the database.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint setup deps db clean stop bench messages

run: setup
	$(BIN)/veta load-sample --if-empty
	$(BIN)/veta serve

test: deps $(BIN)/veta lint
	$(BIN)/veta db start >/dev/null
	$(BIN)/pytest -n 2 --dist loadfile

# The guard rails `make test` runs first: lint, formatting, types (mypy over geo, api, cli).
lint: $(BIN)/veta
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: deps $(BIN)/veta db

# System packages, installed only where missing: PostgreSQL 15 and PostGIS 3 (unless
# DATABASE_URL points at a server), GDAL's command-line tools (the tests use ogrinfo/ogr2ogr),
# Chromium (the web map's browser test, and the PDF of kept reports) and PgBouncer (the test of
# Veta behind it in transaction mode, tests/test_pgbouncer.py; Debian puts it in /usr/sbin).
deps:
	@missing=""; \
	if [ -z "$$DATABASE_URL" ]; then \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql-15"; \
	  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || missing="$$missing postgresql-15-postgis-3"; \
	fi; \
	command -v ogr2ogr >/dev/null || missing="$$missing gdal-bin"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null || missing="$$missing pgbouncer"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/veta: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

db: $(BIN)/veta
	$(BIN)/veta db start
	$(BIN)/veta db upgrade

stop:
	$(BIN)/veta db stop

bench: setup
	$(BIN)/python -m benchmarks

clean: stop
	rm -rf $(VENV) .veta

# The message catalogue (geo/core/locale): after changing or adding a marked message, extract them all
# and merge them into each language's .po; translate what comes out empty, then `make test`.
messages: $(BIN)/veta
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k pgettext:1c,2 -k N_:1c,2 \
	  --no-location --sort-output --project Veta --version 0.1.0 -o geo/core/locale/veta.pot .
	$(BIN)/pybabel update -i geo/core/locale/veta.pot -d geo/core/locale -D veta -N --width 100
