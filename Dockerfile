# syntax=docker/dockerfile:1
# The production image: gunicorn serving the service with service/gunicorn_conf.py, as a non-root user.
# Build: docker build -t ketamine-cds:0.1.0 .     Run: docker run --rm -p 8080:8080 ketamine-cds:0.1.0
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: install the project and its dependencies into a virtual environment.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY cds_hooks ./cds_hooks
COPY service ./service
RUN /opt/venv/bin/pip install . && /opt/venv/bin/pip uninstall --yes pip

# Final stage: the same slim base with only the virtual environment; no compiler, no pip, no sources.
# The service writes only to the metrics folder and, when DATABASE_URL is not set, to the embedded SQLite file in
# var/ under the working directory (for trying the image with docker run; its data goes with the container). The
# Helm chart always sets DATABASE_URL to PostgreSQL and runs with a read-only root filesystem.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CDS_BIND=0.0.0.0:8080 \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/ketamine-cds/metrics
RUN groupadd --system --gid 10001 cds \
    && useradd --system --uid 10001 --gid cds --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cds \
    && mkdir -p /var/lib/ketamine-cds/metrics /var/lib/ketamine-cds/var \
    && chown cds:cds /var/lib/ketamine-cds/metrics /var/lib/ketamine-cds/var
COPY --from=build /opt/venv /opt/venv
WORKDIR /var/lib/ketamine-cds
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["gunicorn", "-c", "python:service.gunicorn_conf"]
