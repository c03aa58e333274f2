#!/usr/bin/env bash
# A telemetry incident on the demo warehouse, step by step, with the simulated clock
# (BACKFILL_NOW) standing at each moment of the story. Needs build/backfill.
set -euo pipefail
cd "$(dirname "$0")/.."
BF="$PWD/build/backfill"
export BACKFILL_WAREHOUSE="$PWD/demo/warehouse"
export BACKFILL_PRINCIPAL=alice
P=moz-fx-data-shared-prod
T=contextual_services_live.topsites_click_v1
SCHEMAS=../shared/corpus/schemas
[ -d "$SCHEMAS" ] || SCHEMAS=testdata/schemas

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
at() { export BACKFILL_NOW="$1"; echo "   (clock: $1)"; }
run() { echo "\$ backfill $*"; "$BF" "$@"; }

rm -rf demo/warehouse && mkdir -p demo

step "1. A warehouse with the production schemas"
at 2020-03-15T12:00:00Z
run init
run principal set bob writer
run project create $P
run schemas deploy "$SCHEMAS" --project $P | tail -n 1

step "2. Three days of pings arrive (100 per day)"
for day in 2020-03-16 2020-03-17 2020-03-18; do
  at "${day}T23:30:00Z"
  run sql --project $P "INSERT INTO $T (submission_timestamp, document_id, context_id, normalized_channel, sample_id)
    WITH d AS (SELECT 0 AS i UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
               UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)
    SELECT TIMESTAMP_ADD(TIMESTAMP '$day 00:00:00+00', INTERVAL a.i * 60 + b.i MINUTE),
           CONCAT('doc-$day-', CAST(a.i * 10 + b.i AS STRING)), 'ctx', 'release', a.i * 10 + b.i
    FROM d AS a CROSS JOIN d AS b"
done
run show $P.$T | sed -n '/^Partitions/,$p'

step "3. The incident: a careless job overwrites 2020-03-17 with 3 rows"
at 2020-03-19T09:00:00Z
run sql --project $P --destination-table "$T\$20200317" --replace \
  "SELECT * FROM $T WHERE DATE(submission_timestamp) = '2020-03-17' AND sample_id < 3"
run sql --project $P "SELECT DATE(submission_timestamp) AS day, count(*) AS pings FROM $T GROUP BY 1 ORDER BY 1"

step "4. Time travel: the table as it was an hour before the overwrite"
at 2020-03-19T10:00:00Z
run sql --project $P "SELECT DATE(submission_timestamp) AS day, count(*) AS pings
  FROM $T FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 HOUR) GROUP BY 1 ORDER BY 1"

step "5. The old day is copied into a restricted sandbox; outsiders are refused"
run dataset create $P.sandbox_restricted --restricted --readers carol
run sql --project $P "CREATE TABLE sandbox_restricted.topsites_click_20200317 AS (
  SELECT * FROM $T FOR SYSTEM_TIME AS OF '2020-03-19 08:00:00+00' WHERE DATE(submission_timestamp) = '2020-03-17')"
set +e
run --as mallory sql --project $P "SELECT count(*) FROM sandbox_restricted.topsites_click_20200317"
code=$?
set -e
echo "   -> exit code $code (3 = refused by a safety check)"
[ "$code" -eq 3 ] || { echo "expected the read to be refused with exit 3" >&2; exit 1; }
run --as carol sql --project $P "SELECT count(*) AS rescued_rows FROM sandbox_restricted.topsites_click_20200317"

step "6. A time-travel read past the 7-day window is refused with the earliest readable time"
at 2020-03-27T10:00:00Z
set +e
run sql --project $P "SELECT count(*) FROM $T FOR SYSTEM_TIME AS OF '2020-03-19 08:00:00+00'"
code=$?
set -e
echo "   -> exit code $code"
[ "$code" -eq 3 ] || { echo "expected exit 3" >&2; exit 1; }

step "7. Every change is in the audit log"
run audit --project $P | grep -v "create table" | cut -c1-150

echo
echo "Demo warehouse left in $BACKFILL_WAREHOUSE (open a project with: duckdb $BACKFILL_WAREHOUSE/projects/$P.duckdb)"
