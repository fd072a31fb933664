#!/usr/bin/env bash
# Makes PostgreSQL and Redis images available to Testcontainers on a machine that reaches no container registry:
# starts Debian's docker.io (installed when missing) and builds local images from Debian packages, tagged with the
# official names (postgres:15, redis:7.0), once per machine (~2 min; later runs reuse them).
# Source it: on success it exports what Testcontainers needs and CLEANREALTIME_CONTAINER_TESTS=on; on failure it says
# so loudly and the container tests are reported as skipped (never silently passed).
images="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/tools/container-images"
if [ "${CLEANREALTIME_CONTAINER_TESTS:-}" = "off" ]; then
  echo "containers: CLEANREALTIME_CONTAINER_TESTS=off - PostgreSQL/Redis tests will be SKIPPED"
elif [ ! -x "$images/start-docker" ] && [ ! -f "$images/start-docker" ]; then
  echo "containers: $images not found - PostgreSQL/Redis tests will be SKIPPED" >&2
elif env_line=$(sh "$images/start-docker" 2>/tmp/cleanrealtime-start-docker.log) && sh "$images/build" >/tmp/cleanrealtime-images.log 2>&1; then
  eval "$(printf '%s\n' "$env_line" | grep '^export ')"
  export CLEANREALTIME_CONTAINER_TESTS=on
  export CLEANREALTIME_POSTGRES_IMAGE="${CLEANREALTIME_POSTGRES_IMAGE:-postgres:15}" CLEANREALTIME_REDIS_IMAGE="${CLEANREALTIME_REDIS_IMAGE:-redis:7.0}"
  echo "containers: Docker ready ($CLEANREALTIME_POSTGRES_IMAGE, $CLEANREALTIME_REDIS_IMAGE)"
else
  echo "containers: Docker could not be started or the images built (see /tmp/cleanrealtime-start-docker.log, /tmp/cleanrealtime-images.log) - PostgreSQL/Redis tests will be SKIPPED" >&2
fi
