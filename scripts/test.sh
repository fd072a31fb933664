#!/usr/bin/env bash
# Runs the whole test suite (unit + integration, including the dashboard in headless chromium), measures line coverage of src/ (fails under COVERAGE_MIN, default
# 80 %), and prints one summary line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --browser
# PostgreSQL/Redis for the container tests (skipped, with a message, when Docker cannot run here).
source scripts/containers.sh

results="TestResults"
min="${COVERAGE_MIN:-80}"
rm -rf "$results" coverage
status=0
# Build in parallel, then run the test projects one after another (-m:1): the performance rows measure latency on a
# 2-core machine and must not share it with another test assembly's OpenCV work.
dotnet build CleanRealtime.sln -c Release -nologo -v quiet || status=$?
if [ "$status" -eq 0 ]; then
  dotnet test CleanRealtime.sln -c Release --no-build -m:1 --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
    --collect "XPlat Code Coverage" --settings coverage.runsettings "$@" || status=$?
fi

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done

coverage_status=0
if compgen -G "$results/*/coverage.cobertura.xml" >/dev/null; then
  dotnet tool restore >/dev/null
  dotnet reportgenerator "-reports:$results/*/coverage.cobertura.xml" -targetdir:coverage "-reporttypes:TextSummary;Cobertura" >/dev/null
  line=$(sed -n 's/^ *Line coverage: *\([0-9.]*\)%.*/\1/p' coverage/Summary.txt | head -n 1)
  echo "line coverage of src/: ${line}% (minimum ${min}%)"
  if ! awk -v c="$line" -v m="$min" 'BEGIN { exit !(c + 0 >= m + 0) }'; then
    echo "coverage below ${min}%" >&2
    coverage_status=1
  fi
else
  echo "no coverage report was produced" >&2
  coverage_status=1
fi

# Name every failed test with the first lines of its message, last, where a CI log's tail shows it.
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    awk '
      /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); infail = 1; printed = 0; print "  - " name; next }
      infail && /<Message>/ { inmsg = 1 }
      infail && inmsg && printed < 6 { line = $0; gsub(/^[ \t]+|<\/?Message>/, "", line); if (line != "") { print "      " substr(line, 1, 200); printed++ } }
      infail && /<\/Message>/ { inmsg = 0; infail = 0 }
      /<\/UnitTestResult>/ { infail = 0; inmsg = 0 }
    ' "$trx"
  done
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then exit "$status"; fi
exit "$coverage_status"
