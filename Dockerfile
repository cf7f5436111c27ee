# indexgate's GitHub Action: a Docker container action (see action.yml).
#
# Releases do not build this file on the runner: the release workflow pushes the image to
# GHCR and the tagged action.yml names it by digest. The default branch builds it (forks,
# `uses: ./`). The runner mounts the repository at /github/workspace, makes it the working
# directory and runs the container as root with INPUT_* variables; so the final image sets
# no USER and no WORKDIR.
#
# The base image, pinned by digest. Dependabot ("docker" ecosystem) keeps this FROM line
# current; the stages below take it through BASE_IMAGE, so a build can swap in a mirror of
# the same image (`--build-arg BASE_IMAGE=registry.example.com/python:3.12.8-slim-bookworm`)
# and scripts/container-smoke a locally made stand-in, with this file unchanged.
ARG BASE_IMAGE=python-base
FROM python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0 AS python-base

# --- build: a wheel of indexgate and a virtualenv with the locked dependencies ----------
FROM ${BASE_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

COPY requirements/action.lock /build/requirements/action.lock
COPY pyproject.toml README.md /build/src/
COPY src /build/src/src

# Corporate builds, both optional build secrets, used by this step only and stored in no
# layer (a build argument would be kept in the image's history):
#   extra-ca:  a PEM bundle of extra CA certificates for pip (a TLS-inspecting proxy),
#              added to the base image's CA bundle: --secret id=extra-ca,src=corp-ca.pem
#   pip-conf:  a pip.conf, e.g. an index mirror with its credentials:
#              --secret id=pip-conf,src=pip.conf
#
# Every dependency is hash-checked from the lock; indexgate's wheel is built with the
# locked setuptools (no build isolation: nothing unpinned is fetched). Then setuptools and
# pip are removed from the virtualenv: the runtime image carries no build tools.
RUN --mount=type=secret,id=extra-ca,required=false \
    --mount=type=secret,id=pip-conf,target=/etc/pip.conf,required=false \
    set -eu; \
    if [ -s /run/secrets/extra-ca ]; then \
        cat /etc/ssl/certs/ca-certificates.crt /run/secrets/extra-ca > /build/ca.pem; \
        export PIP_CERT=/build/ca.pem; \
    fi; \
    python -m venv /opt/indexgate; \
    pip=/opt/indexgate/bin/pip; \
    "$pip" install --no-deps --require-hashes -r /build/requirements/action.lock; \
    "$pip" wheel --no-deps --no-build-isolation --wheel-dir /build/dist /build/src; \
    "$pip" install --no-deps /build/dist/indexgate-*.whl; \
    "$pip" check; \
    "$pip" uninstall --yes setuptools pip; \
    /opt/indexgate/bin/python -I -c "import indexgate.action"

# --- runtime: the base image and the virtualenv, nothing else ----------------------------
FROM ${BASE_IMAGE}

COPY --from=build /opt/indexgate /opt/indexgate

# -I: an isolated interpreter. The working directory is the repository under test, and
# nothing in it (a yaml.py, an httpx.py, an indexgate/ folder) nor in a PYTHONPATH the
# workflow sets may be imported by the gate. -u: the log is not held back in a buffer.
ENTRYPOINT ["/opt/indexgate/bin/python", "-I", "-u", "-m", "indexgate.action"]
