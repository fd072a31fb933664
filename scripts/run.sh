#!/usr/bin/env bash
# Starts the server on its embedded defaults: http://localhost:8000, SQLite at data/cleanrealtime.db, media in ./media.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
mkdir -p media
# Built, then started from here (not with `dotnet run`, whose working directory is src/Api): the relative paths of the
# defaults, data/ and ./media, are the repository's folders, as the README says.
dotnet build src/Api -c Release -nologo -v quiet
exec dotnet src/Api/bin/Release/net10.0/CleanRealtime.Api.dll "$@"
