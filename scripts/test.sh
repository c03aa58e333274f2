#!/usr/bin/env bash
# Sets everything up and runs every test once: bootstrap (apt + pinned DuckDB and ZetaSQL); the
# optimized build (build/, preset "release", with the benchmark programs) runs the few tests that
# repeat one code path dozens of times; the sanitized clang build (build-asan/, preset
# "sanitize": ASan + UBSan at -O1, the CLI tests running the sanitized binary) runs all the
# others; then every fuzz target of that same build runs for a short time (scripts/fuzz.sh).
#
#   BACKFILL_SANITIZERS=0      run every test in build/ and skip the sanitized build and fuzzing
#   BACKFILL_FUZZ_SECONDS=N    time per fuzz target (default 20; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The house style (.clang-format): a file written otherwise fails the run before anything builds
# (fix: clang-format -i FILE).
find src bench fuzz \( -name '*.cc' -o -name '*.h' \) -print0 | xargs -0 clang-format --dry-run --Werror
cmake --preset release >/dev/null

if [ "${BACKFILL_SANITIZERS:-1}" = 0 ]; then
  cmake --build build -j "$(nproc)"
  ctest --test-dir build --output-on-failure -j "$(nproc)"
  exit 0
fi

# Every kill point of a plan, every pair of concurrent writers, every corpus schema through every
# wide-table writer and through the sink and `sql --format json`: the same code paths dozens of
# times, which under ASan would take most of the CI budget; and the two scenarios that replay the
# whole incident twice (triage to drafted plan) or run every query file. (The wide edge-value
# test, the JSON golden test, the draft and gaps tests and the unit tests of those paths run
# under the sanitizers.)
# build/ needs only the binaries that hold them (and the benchmark programs, kept compiling).
heavy='PlanApplyTest.KilledAtEveryCrashPoint*:ConcurrencyTest.*:WideTest.EveryCorpusSchema*:JsonOutputTest.EveryCorpusTable*:TriageScenarioTest.*:QueryCorpusCliTest.*'
cmake --build build -j "$(nproc)" --target backfill cli_test ingest_test benchmarks
GTEST_FILTER="$heavy" ctest --test-dir build --output-on-failure -j "$(nproc)" -R '^(cli_[0-9]+|ingest|install)$'

# --- AddressSanitizer + UndefinedBehaviorSanitizer ------------------------------------------
# clang links the ASan runtime into every executable, ahead of the prebuilt (uninstrumented)
# libduckdb.so, whose allocations then go through ASan's malloc. Every sanitized process (the
# test binaries and each `backfill` they spawn) writes its report, if any, to
# build-asan/sanitizer-reports/ and exits 86: a CLI test that expects exit 1 cannot mistake a
# sanitizer failure in the child for the failure it expects, and the reports are checked below
# whatever the tests said.
cmake --preset sanitize >/dev/null
cmake --build build-asan -j "$(nproc)"
reports="$PWD/build-asan/sanitizer-reports"
rm -rf "$reports" && mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=86:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=86:log_path=$reports/ubsan"
# No suppressions: libduckdb.so showed no leak or error in this suite.
asan_status=0
GTEST_FILTER="-$heavy" ctest --test-dir build-asan --output-on-failure -j "$(nproc)" || asan_status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "test.sh: sanitizer reports in $reports:" >&2
  for f in "$reports"/*; do echo "==== $f" >&2; head -n 60 "$f" >&2; done
  exit 1
fi
[ "$asan_status" -eq 0 ] || exit "$asan_status"
unset ASAN_OPTIONS UBSAN_OPTIONS

# --- libFuzzer targets of the same build, a short run each (longer: scripts/fuzz.sh 600) -----
if [ "${BACKFILL_FUZZ_SECONDS:-20}" != 0 ]; then
  bash scripts/fuzz.sh "${BACKFILL_FUZZ_SECONDS:-20}"
fi
