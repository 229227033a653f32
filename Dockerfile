# syntax=docker/dockerfile:1
# The V2 License Server: one image for the License API, the admin panel and `migrate`.
#
#   docker build -t licenseserver .
#   docker run --rm -e DATABASE_URL=postgresql://... licenseserver migrate
#   docker run -d -p 8000:8000 -e DATABASE_URL=... licenseserver serve api --host 0.0.0.0
#
# (scripts/build-image builds it with podman from a base made of Debian's packages, where Docker
# Hub cannot be reached: docs/deployment.md, "The image".)
#
# Three stages:
# - `build` installs the package and its pinned dependencies into /opt/venv and trims that
#   virtualenv (no pip, no setuptools, no debug sections, only the panel's Babel locales);
# - `system` is the Python base less what a server never runs (pip, ensurepip, docs, man pages,
#   translations, apt's lists), with our user made;
# - `runtime` starts FROM scratch and copies `system`'s whole tree, then the virtualenv. A file
#   deleted in a later layer still weighs in the layer below it; copying the trimmed tree into an
#   empty image is what makes the deletions count, with any builder (no --squash needed).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# PIP_CERT: pip trusts the system's CA bundle (the official image's pip would use its own copy),
# so a bundle mounted over it for a TLS-inspecting proxy is the one pip uses (docs/deployment.md).
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PYTHONDONTWRITEBYTECODE=1
# strip: the wheels' extension modules carry 35 MB of debug sections that nothing here reads.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The pinned dependencies first, in a layer of their own: it is rebuilt only when pyproject.toml
# changes, not on every change to the source.
COPY pyproject.toml ./
# The panel formats numbers and dates in these Babel locales only (licenseserver.admin.i18n's
# BABEL_LOCALES with their parents; tests/deploy/test_dockerfile.py keeps the two in step). The
# other 1,100 locale files are 34 MB.
ARG BABEL_LOCALES="root de de_DE en"
# Byte code is compiled here once, as the root file system is read-only at run time; the bundled
# test suites of some dependencies are left uncompiled. Type stubs and C sources are not run.
RUN set -eu; \
    python -m venv /opt/venv; \
    python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > requirements.txt; \
    /opt/venv/bin/pip install --no-compile --requirement requirements.txt; \
    site="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"; \
    for data in "$site"/babel/locale-data/*.dat; do \
      name="$(basename "$data" .dat)"; \
      case " $BABEL_LOCALES " in *" $name "*) ;; *) rm "$data" ;; esac; \
    done; \
    find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.h' \) -delete; \
    find "$site" -type f -name '*.so' ! -path '*.libs/*' -exec strip --strip-debug {} +; \
    /opt/venv/bin/python -m compileall -q -x '/(tests?|testing|_testbase)/' /opt/venv/lib
# Then the package itself (only what `pip install .` reads: the metadata, the README it names and
# src/); `pip check` proves the layer above holds every dependency. pip and setuptools go last.
COPY README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-compile --no-deps . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib/python3*/site-packages/licenseserver \
    && /opt/venv/bin/pip uninstall --yes --quiet setuptools wheel \
    && /opt/venv/bin/pip uninstall --yes --quiet pip

FROM ${PYTHON_IMAGE} AS system
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 licenseserver \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin licenseserver \
    && mkdir /data && chown 10001:10001 /data
# What goes, on either base: pip, setuptools and ensurepip (the virtualenv has its own Python
# packages; on Debian's python3 they are the packages purged below), documentation except the
# copyright files, man and info pages, translations, apt's package lists and logs. The standard
# library is compiled for the same reason as the virtualenv (the official image ships it without
# byte code; on Debian's python3 this finds everything compiled already).
RUN set -eu; \
    stdlib="$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"; \
    purge=""; \
    for package in python3-venv python3.11-venv python3-pip-whl python3-setuptools-whl; do \
      if dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null | grep -q ' installed$'; then \
        purge="$purge $package"; \
      fi; \
    done; \
    if [ -n "$purge" ]; then dpkg --purge $purge >/dev/null; fi; \
    rm -rf "$stdlib/ensurepip" "$stdlib/idlelib" "$stdlib/lib2to3" "$stdlib/pydoc_data" \
      "$stdlib/turtledemo" "$stdlib/tkinter" "$stdlib/test" \
      "$stdlib"/site-packages/pip* "$stdlib"/site-packages/setuptools* "$stdlib"/site-packages/wheel* \
      "$stdlib/site-packages/_distutils_hack" "$stdlib/site-packages/distutils-precedence.pth" \
      /usr/local/bin/pip* /usr/share/python-wheels /usr/share/man /usr/share/info /usr/share/locale \
      /usr/share/lintian /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old; \
    find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete; \
    find /usr/share/doc -mindepth 1 -depth -type d -empty -delete; \
    find /var/log -type f -delete; \
    python -m compileall -q "$stdlib"

FROM scratch AS runtime
COPY --from=system / /
COPY --from=build /opt/venv /opt/venv
LABEL org.opencontainers.image.title="V2 License Server" \
      org.opencontainers.image.description="License API and admin panel"
# An image FROM scratch inherits no ENV: PATH and LANG as the Python images set them.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8000/health
# The only writable place the process needs: the SQLite file when no DATABASE_URL is given
# (PostgreSQL in production) and the working folder of `serve`.
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000 8001
# The image has no curl: the check is Python's own urllib. HEALTHCHECK_URL points it at the admin
# panel's port when the container serves the panel.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4).status == 200 else 1)"]
ENTRYPOINT ["licenseserver"]
CMD ["serve", "api", "--host", "0.0.0.0", "--port", "8000"]
