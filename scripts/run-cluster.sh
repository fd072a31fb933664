#!/usr/bin/env bash
# Starts a cluster on this machine: PostgreSQL and Redis in Docker, and N server nodes on consecutive ports of 127.0.0.1
# (default 3: api+worker on 8001, api-only on 8002, worker-only on 8003; with 2: api+worker and api-only; more nodes
# are api+worker), every node on the Redis backplane (Realtime:Backplane=redis), so a job's live messages reach
# subscribers on any node. Prints their URLs, then "run-cluster: ready" once every node answers /health/ready, and
# stops everything (nodes, containers) on Ctrl-C or SIGTERM. Exits non-zero if anything fails to start.
#   scripts/run-cluster.sh [N]      env: BASE_PORT (8001), PG_PORT (55432), REDIS_PORT (56379),
#                                        CLEANREALTIME_POSTGRES_IMAGE (postgres:15), CLEANREALTIME_REDIS_IMAGE (redis:7.0),
#                                        CLUSTER_DIR (.cluster: the build and the nodes' logs), MEDIA_ROOT (./media),
#                                        SERVER_DIR (a folder with a built CleanRealtime.Api.dll: used instead of building),
#                                        READY_TIMEOUT (120: seconds each node may take to become ready),
#                                        CLUSTER_NAME (the script's pid: the containers are cleanrealtime-pg-/-redis-<name>)
# scripts/test.sh runs it with 2 nodes (tests/Integration/Persistence/RunClusterScriptTests.cs).
set -euo pipefail
cd "$(dirname "$0")/.."
nodes="${1:-3}"
base_port="${BASE_PORT:-8001}"
pg_port="${PG_PORT:-55432}"
redis_port="${REDIS_PORT:-56379}"
ready_timeout="${READY_TIMEOUT:-120}"
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/run-cluster.sh [number of nodes]" >&2; exit 2; }

scripts/bootstrap.sh
source scripts/containers.sh
[ "${CLEANREALTIME_CONTAINER_TESTS:-}" = "on" ] || { echo "run-cluster: Docker is needed for PostgreSQL and Redis" >&2; exit 1; }

run_dir="${CLUSTER_DIR:-$(pwd)/.cluster}"
media_root="${MEDIA_ROOT:-$(pwd)/media}"
mkdir -p "$run_dir" "$media_root"
name="${CLUSTER_NAME:-$$}"
pg="cleanrealtime-pg-$name"; redis="cleanrealtime-redis-$name"; pids=()
cleanup() {
  # Once stopping, a second Ctrl-C or SIGTERM (a supervisor, or `timeout` forwarding its own) must not cut the clean-up short.
  trap - EXIT; trap "" INT TERM
  echo; echo "run-cluster: stopping ${#pids[@]} nodes, PostgreSQL and Redis"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Each node stops within its shutdown timeout; one that does not is killed.
  for _ in $(seq 1 30); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  docker rm -f "$pg" "$redis" >/dev/null 2>&1 || true
  echo "run-cluster: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

password="cleanrealtime-$RANDOM$RANDOM"
docker run -d --name "$pg" -e POSTGRES_PASSWORD="$password" -e POSTGRES_DB=cleanrealtime \
  -p "127.0.0.1:$pg_port:5432" "${CLEANREALTIME_POSTGRES_IMAGE:-postgres:15}" >/dev/null
docker run -d --name "$redis" -p "127.0.0.1:$redis_port:6379" "${CLEANREALTIME_REDIS_IMAGE:-redis:7.0}" >/dev/null
for _ in $(seq 1 60); do
  docker exec "$pg" pg_isready -q -h 127.0.0.1 -U postgres -d cleanrealtime 2>/dev/null && break
  sleep 1
done
docker exec "$pg" pg_isready -q -h 127.0.0.1 -U postgres -d cleanrealtime || { echo "run-cluster: PostgreSQL did not start" >&2; exit 1; }
for _ in $(seq 1 30); do
  [ "$(docker exec "$redis" redis-cli ping 2>/dev/null)" = "PONG" ] && break
  sleep 1
done
[ "$(docker exec "$redis" redis-cli ping 2>/dev/null)" = "PONG" ] || { echo "run-cluster: Redis did not start" >&2; exit 1; }

if [ -n "${SERVER_DIR:-}" ]; then
  server_dir="$SERVER_DIR"
else
  echo "run-cluster: building the server"
  server_dir="$run_dir/api"
  dotnet build src/Api -c Release -o "$server_dir" -v quiet -nologo >/dev/null
fi
[ -f "$server_dir/CleanRealtime.Api.dll" ] || { echo "run-cluster: no CleanRealtime.Api.dll in $server_dir" >&2; exit 1; }

# Waits until the node on $1 answers /health/ready; fails (and so stops everything) if it exits or takes too long.
wait_ready() {
  local port="$1" pid="$2" log="$3" deadline=$((SECONDS + ready_timeout))
  until curl -fs --max-time 2 "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "run-cluster: the node on $port exited; its log ($log):" >&2; tail -n 20 "$log" >&2; exit 1; }
    [ "$SECONDS" -lt "$deadline" ] || { echo "run-cluster: the node on $port was not ready in ${ready_timeout} s; see $log" >&2; exit 1; }
    sleep 0.5
  done
}

jobs_db="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=$password;Database=cleanrealtime"
for i in $(seq 1 "$nodes"); do
  port=$((base_port + i - 1))
  roles="api,worker"
  if [ "$nodes" -ge 2 ] && [ "$i" -eq 2 ]; then roles="api"; fi
  if [ "$nodes" -ge 3 ] && [ "$i" -eq "$nodes" ]; then roles="worker"; fi
  log="$run_dir/node$i.log"
  dotnet "$server_dir/CleanRealtime.Api.dll" --Urls="http://127.0.0.1:$port" --Storage:Provider=postgres \
    --ConnectionStrings:Jobs="$jobs_db" --Realtime:Backplane=redis --ConnectionStrings:Redis="127.0.0.1:$redis_port" \
    --Node:Roles="$roles" --Node:Id="node$i" --Media:Root="$media_root" >"$log" 2>&1 &
  pids+=("$!")
  echo "node$i  http://127.0.0.1:$port  roles=$roles  log=$log  pid=$!"
  # The first node applies the migrations; the others start once it is ready.
  if [ "$i" -eq 1 ]; then wait_ready "$port" "$!" "$log"; fi
done
for i in $(seq 2 "$nodes"); do wait_ready $((base_port + i - 1)) "${pids[$((i - 1))]}" "$run_dir/node$i.log"; done
echo "PostgreSQL 127.0.0.1:$pg_port (database cleanrealtime), Redis 127.0.0.1:$redis_port. Ctrl-C stops everything."
echo "run-cluster: ready"
# Until a node exits (then everything stops) or a signal arrives.
wait -n "${pids[@]}" || true
echo "run-cluster: a node exited; see $run_dir" >&2
exit 1
