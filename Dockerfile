# syntax=docker/dockerfile:1
# One image for every planwatch process; the command picks it:
#   planwatch-ingest | planwatch-scoring | planwatch-notify | planwatch tick | planwatch simulate
# (`--target report`: the same plus chromium, for the monthly PDF report)
# Runs as a non-root user and on a read-only root filesystem: nothing is written outside /tmp
# (bytecode is compiled at build time; PYTHONDONTWRITEBYTECODE stops writes at run time).

# 3.11, 3.12 or 3.13 (the lock holds one resolution for all three).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: wheels for the project and all its dependencies ---------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
# Every dependency at its locked version, checked against its locked hashes.
RUN pip wheel --require-hashes --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY planwatch ./planwatch
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- app: the interpreter, the non-root user and planwatch installed from the wheels; the two
# images below start from it.
FROM ${PYTHON_IMAGE} AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    TMPDIR=/tmp
RUN groupadd --system --gid 10001 planwatch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin planwatch
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels planwatch \
 && python -m compileall -q "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
WORKDIR /tmp

# --- report: the app plus Debian's chromium and a CJK font, for `planwatch report --pdf` (the
# monthly CronJob planwatch-report, compose's `report` profile). Build it with
# `--target report`; the default target stays `runtime` (the last stage), which has no browser.
FROM app AS report
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
CMD ["planwatch", "report", "--help"]

# --- runtime ----------------------------------------------------------------------------------
FROM app AS runtime
USER 10001:10001
# ingest, scoring, notify listen here by default (<SVC>_HTTP__PORT); bind 0.0.0.0 via <SVC>_HTTP__HOST.
EXPOSE 8001 8002 8003
CMD ["planwatch", "--help"]
