# indexgate's GitHub Action: a Docker container action (see action.yml).
#
# The runner builds this image on every job, mounts the repository at /github/workspace,
# sets it as the working directory and runs the container as root with INPUT_* variables;
# so the image sets no USER and relies on no WORKDIR of its own.
#
# Base image pinned by tag. To pin it by digest as well, replace the line with
#   FROM python:3.12.8-slim-bookworm@sha256:<digest>
# taking the digest from `docker buildx imagetools inspect python:3.12.8-slim-bookworm`
# (and let Dependabot's "docker" ecosystem keep tag and digest current).
FROM python:3.12.8-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Locked dependencies first (a layer that survives source changes), every file hash-checked.
COPY requirements/action.lock /opt/indexgate/requirements/action.lock
RUN python -m pip install --no-deps --require-hashes -r /opt/indexgate/requirements/action.lock

# indexgate itself, built with the pinned setuptools above and nothing fetched unpinned.
COPY pyproject.toml README.md /opt/indexgate/
COPY src /opt/indexgate/src
RUN python -m pip install --no-deps --no-build-isolation /opt/indexgate \
    && python -m pip check \
    && python -c "import indexgate.action" \
    && rm -rf /opt/indexgate/build

ENTRYPOINT ["python", "-m", "indexgate.action"]
