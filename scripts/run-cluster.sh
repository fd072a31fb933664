#!/usr/bin/env bash
# Starts a cluster on this machine: PostgreSQL and Redis in Docker, and N server nodes on consecutive ports
# (default 3: api+worker on 8001, api-only on 8002, worker-only on 8003; more nodes are api+worker), every node on the
# Redis backplane (Realtime:Backplane=redis), so a job's live messages reach subscribers on any node. Prints their URLs
# and stops everything on Ctrl-C.
#   scripts/run-cluster.sh [N]      env: BASE_PORT (8001), PG_PORT (55432), REDIS_PORT (56379),
#                                        CLEANREALTIME_POSTGRES_IMAGE (postgres:15), CLEANREALTIME_REDIS_IMAGE (redis:7.0)
set -euo pipefail
cd "$(dirname "$0")/.."
nodes="${1:-3}"
base_port="${BASE_PORT:-8001}"
pg_port="${PG_PORT:-55432}"
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/run-cluster.sh [number of nodes]" >&2; exit 2; }

scripts/bootstrap.sh
source scripts/containers.sh
[ "${CLEANREALTIME_CONTAINER_TESTS:-}" = "on" ] || { echo "run-cluster: Docker is needed for PostgreSQL" >&2; exit 1; }

run_dir="$(pwd)/.cluster"
mkdir -p "$run_dir" media
pg="cleanrealtime-pg-$$"; pids=()
cleanup() {
  trap - EXIT INT TERM
  echo; echo "run-cluster: stopping ${#pids[@]} nodes and PostgreSQL"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  docker rm -f "$pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

password="cleanrealtime-$RANDOM$RANDOM"
docker run -d --name "$pg" -e POSTGRES_PASSWORD="$password" -e POSTGRES_DB=cleanrealtime \
  -p "127.0.0.1:$pg_port:5432" "${CLEANREALTIME_POSTGRES_IMAGE:-postgres:15}" >/dev/null
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

echo "run-cluster: building the server"
dotnet build src/Api -c Release -o "$run_dir/api" -v quiet -nologo >/dev/null
jobs_db="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=$password;Database=cleanrealtime"
for i in $(seq 1 "$nodes"); do
  port=$((base_port + i - 1))
  roles="api,worker"
  if [ "$nodes" -ge 3 ] && [ "$i" -eq 2 ]; then roles="api"; fi
  if [ "$nodes" -ge 2 ] && [ "$i" -eq "$nodes" ]; then roles="worker"; fi
  dotnet "$run_dir/api/CleanRealtime.Api.dll" --contentRoot="$run_dir/api" --Urls="http://localhost:$port" --Storage:Provider=postgres \
    --ConnectionStrings:Jobs="$jobs_db" --Realtime:Backplane=redis --ConnectionStrings:Redis="127.0.0.1:$redis_port" \
    --Node:Roles="$roles" --Node:Id="node$i" --Media:Root="$(pwd)/media" >"$run_dir/node$i.log" 2>&1 &
  pids+=("$!")
  echo "node$i  http://localhost:$port  roles=$roles  log=$run_dir/node$i.log"
  # The first node applies the migrations; the others start once it is ready.
  if [ "$i" -eq 1 ]; then
    for _ in $(seq 1 120); do curl -fs "http://localhost:$port/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done
  fi
done
echo "PostgreSQL 127.0.0.1:$pg_port (database cleanrealtime). Ctrl-C stops everything."
wait
