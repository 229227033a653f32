# syntax=docker/dockerfile:1
# The V2 License Server: one image for the License API, the admin panel and `migrate`.
#
#   docker build -t licenseserver .
#   docker run --rm -e DATABASE_URL=postgresql://... licenseserver migrate
#   docker run -d -p 8000:8000 -e DATABASE_URL=... licenseserver serve api --host 0.0.0.0
#
# Two stages: `build` installs the package and its pinned dependencies into a virtualenv;
# `runtime` copies only that virtualenv onto a clean slim image, so pip's caches, the source tree
# and anything a build needed never reach the image that runs.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# Only what `pip install .` reads: the metadata, the README it names, and the package itself.
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-compile . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && /opt/venv/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="V2 License Server" \
      org.opencontainers.image.description="License API and admin panel"
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 licenseserver \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin licenseserver \
    && mkdir /data && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8000/health
# The only writable place the process needs: the SQLite file when no DATABASE_URL is given
# (PostgreSQL in production) and the working folder of `serve`.
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000 8001
# slim has no curl: the check is Python's own urllib. HEALTHCHECK_URL points it at the admin
# panel's port when the container serves the panel.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4).status == 200 else 1)"]
ENTRYPOINT ["licenseserver"]
CMD ["serve", "api", "--host", "0.0.0.0", "--port", "8000"]
