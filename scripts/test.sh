#!/usr/bin/env bash
# npm test: the type check and the tests, side by side rather than one after the other. Both the
# check and the tests' setup (migrating the run's databases) keep a single core busy, so together
# they fill two. Arguments go to vitest; the exit code is the tests', else the check's.
set -uo pipefail
cd "$(dirname "$0")/.."
tsc --noEmit &
typecheck=$!
vitest run "$@"
tests=$?
wait "$typecheck"
types=$?
if [ "$types" -ne 0 ]; then echo "npm test: the type check (tsc --noEmit) failed" >&2; fi
if [ "$tests" -ne 0 ]; then exit "$tests"; fi
exit "$types"
