#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ in the sanitized clang tree (preset "sanitize",
# build-asan/: ASan + UBSan, the tree scripts/test.sh also runs the tests in) and runs each for a
# bounded time, printing per target the executions run and whether it crashed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 20 s each, all targets
#
# Seeds: ../shared/corpus (when checked out), testdata/ and fuzz/seeds/, gathered into
# build-asan/seeds/<target>/. Inputs a run finds are kept in build-asan/corpus/<target>/, so
# later runs start from them; a crash leaves its input as build-asan/artifacts/<target>-crash-*
# (reproduce: build-asan/fuzz/<target> FILE). Exit status 1 when any target crashed.
# BACKFILL_JOBS (default 2) bounds the build's parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-20}
shift || true
ALL=(fuzz_pubsub_line fuzz_payload fuzz_transform fuzz_bq_schema fuzz_plan fuzz_bq_sql)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
B=build-asan
CORPUS=../shared/corpus

cmake --preset sanitize >/dev/null
cmake --build "$B" -j "${BACKFILL_JOBS:-2}" --target "${TARGETS[@]}"

# --- Seed corpora ----------------------------------------------------------------------------
S="$B/seeds"
rm -rf "$S" && mkdir -p "$S"/{fuzz_pubsub_line,fuzz_payload,fuzz_transform,fuzz_bq_schema,fuzz_plan,fuzz_bq_sql}
lines() {  # lines NAME < NDJSON: each line becomes a seed of fuzz_pubsub_line, NAME-<n>
  local n=0 line p
  while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" > "$S/fuzz_pubsub_line/$1-$n"
    # Its payload (base64 text) seeds the payload decoder.
    p=$(printf '%s' "$line" | jq -r 'if type == "object" then (.payload // empty) else empty end' 2>/dev/null || true)
    [ -z "$p" ] || printf '%s' "$p" > "$S/fuzz_payload/$1-$n.b64"
  done
}
if [ -d "$CORPUS" ]; then
  for f in "$CORPUS"/pubsub/*/*.ndjson; do lines "$(basename "$(dirname "$f")")-$(basename "$f")" < "$f"; done
  i=0
  for f in "$CORPUS"/samples/*/*.json; do
    i=$((i + 1))
    cp "$f" "$S/fuzz_transform/sample-$i.json"
    if [ "$(stat -c %s "$f")" -lt 65536 ]; then
      gzip -c "$f" > "$S/fuzz_payload/sample-$i.json.gz"
      cp "$f" "$S/fuzz_payload/sample-$i.json"
      gzip -c "$f" > "$S/fuzz_transform/sample-$i.json.gz"
    fi
  done
  # The conformance vectors: their payloads and their schemas.
  jq -c '.[] | .input' "$CORPUS/conformance/payload-transform.json" | split -l 1 - "$S/fuzz_transform/conformance-"
  jq -c '.[] | .bq_fields' "$CORPUS/conformance/payload-transform.json" | split -l 1 - "$S/fuzz_bq_schema/conformance-"
  # Real schemas, but not the 2 MB ones: mutating those is slow and finds nothing new.
  find "$CORPUS/schemas" -name '*.bq' -size -200k | while read -r f; do
    cp "$f" "$S/fuzz_bq_schema/$(echo "$f" | tr / _)"
  done
else
  echo "fuzz: $CORPUS not found; seeding from testdata/ and fuzz/seeds/ only"
fi
for f in testdata/incident/error/*/*/*.ndjson.gz; do { zcat "$f" || true; } | head -n 5 | lines "$(basename "$f")"; done
head -c 4096 testdata/incident/error/2020-03-16/04/output-20200316-04.ndjson.gz > "$S/fuzz_payload/truncated.gz"
find testdata -name '*.bq' | while read -r f; do cp "$f" "$S/fuzz_bq_schema/$(echo "$f" | tr / _)"; done
cp fuzz/seeds/plan/* "$S/fuzz_plan/"
cp fuzz/seeds/pubsub_line/* "$S/fuzz_pubsub_line/"
cp fuzz/seeds/bq_sql/* testdata/demo/*.sql "$S/fuzz_bq_sql/"

# --- Runs ------------------------------------------------------------------------------------
mkdir -p "$B/artifacts" "$B/logs"
# halt_on_error/abort_on_error: the first finding is the crash libFuzzer saves. Leaks count.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
printf '%-18s %12s %8s  %s\n' target executions seconds result
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t"
  log="$B/logs/$t.log"
  start=$(date +%s)
  rc=0
  "$B/fuzz/$t" -max_total_time="$SECS" -timeout=60 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$B/artifacts/$t-" "$B/corpus/$t" "$S/$t" > "$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    result="ok (corpus $(ls "$B/corpus/$t" | wc -l) inputs)"
  else
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    result="CRASH (exit $rc) ${artifact:-see $log}"
    failed+=("$t")
  fi
  printf '%-18s %12s %8s  %s\n' "$t" "${execs:-?}" "$secs" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "---- $t: $B/logs/$t.log"
    grep -E -m 12 'ERROR|FUZZ_CHECK|runtime error|#[0-9]+ 0x|Test unit' "$B/logs/$t.log" || tail -n 30 "$B/logs/$t.log"
  done
  exit 1
fi
