#!/usr/bin/env bash
# Starts the server on its embedded defaults: http://localhost:8000, SQLite at data/cleanrealtime.db, media in ./media.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
mkdir -p media
exec dotnet run --project src/Api -c Release -- "$@"
