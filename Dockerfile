# Veta's HTTP service. The database is a separate PostGIS (see compose.yaml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Headless Chromium prints kept reports as PDF (GET /screening/reports/{id}?f=pdf).
RUN apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*

# Editable install: Veta finds migrations/ and sample_data/ beside its packages.
COPY . .
RUN pip install -e .

EXPOSE 8000
# Migrate, load the León sample on first start, then serve.
CMD ["sh", "-c", "veta db upgrade && veta load-sample --if-empty && veta serve --host 0.0.0.0 --port 8000"]
