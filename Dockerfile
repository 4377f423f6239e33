# warroom in a container: `docker build -t warroom .` then see docs/deployment.md.
FROM python:3.11-slim

# No .pyc files in the image's layers; logs reach `docker logs` as they are written.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid, so a volume or a bind mount can be given to it ahead of time. The data
# directory is owner-only: warroom tightens anything wider at start (docs/configuration.md).
RUN groupadd --system --gid 10001 warroom \
    && useradd --system --uid 10001 --gid warroom --home-dir /var/lib/warroom \
       --shell /usr/sbin/nologin warroom \
    && install -d -o warroom -g warroom -m 0700 /var/lib/warroom

# .dockerignore lets only pyproject.toml, README.md and src/ into the context. Installed, not
# editable: the source tree is not needed at run time, and the build leaves nothing behind.
COPY . /tmp/warroom-src
RUN pip install /tmp/warroom-src && rm -rf /tmp/warroom-src

# State (SQLite database, evidence files, runbooks) lives in the volume; PostgreSQL replaces
# the database with WARROOM_DATABASE_URL. The configuration is mounted at /etc/warroom.
ENV WARROOM_DATA_DIR=/var/lib/warroom \
    WARROOM_RUNBOOKS_DIR=/var/lib/warroom/runbooks \
    WARROOM_LOG_FORMAT=json
VOLUME ["/var/lib/warroom"]
WORKDIR /var/lib/warroom
USER warroom:warroom

EXPOSE 8080
# The slim image has no curl: Python asks /healthz, and any error or non-2xx status fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# exec form: warroom is PID 1 and gets SIGTERM itself (graceful shutdown, docs/operations.md).
CMD ["warroom", "serve", "--host", "0.0.0.0", "--port", "8080"]
