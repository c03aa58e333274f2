#!/usr/bin/env bash
# A telemetry incident on the demo warehouse, step by step, with the simulated clock
# (BACKFILL_NOW) standing at each moment of the story. Needs build/backfill.
set -euo pipefail
# Long outputs are cut with `sed -n 1,Np`, which reads to the end: `head` would exit early and,
# under pipefail, the writer's SIGPIPE (exit 141) would stop the demo depending on timing.
cd "$(dirname "$0")/.."
BF="$PWD/build/backfill"
export BACKFILL_WAREHOUSE="$PWD/demo/warehouse"
export BACKFILL_PRINCIPAL=alice
P=moz-fx-data-shared-prod
T=contextual_services_live.topsites_click_v1
I=contextual_services_live.topsites_impression_v1
SCHEMAS=../shared/corpus/schemas
[ -d "$SCHEMAS" ] || SCHEMAS=testdata/schemas

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
at() { export BACKFILL_NOW="$1"; echo "   (clock: $1)"; }
run() { echo "\$ backfill $*" >&2; "$BF" "$@"; }

rm -rf demo/warehouse demo/gaps-*.html && mkdir -p demo

step "1. A warehouse with the production schemas"
at 2020-03-01T12:00:00Z
run init
run principal set bob writer
run project create $P
run schemas deploy "$SCHEMAS" --project $P | tail -n 1

step "2. Three days of pings arrive (100 per day)"
for day in 2020-03-02 2020-03-03 2020-03-04; do
  at "${day}T23:30:00Z"
  run sql --project $P "INSERT INTO $I (submission_timestamp, document_id, context_id, normalized_channel, sample_id)
    WITH d AS (SELECT 0 AS i UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
               UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)
    SELECT TIMESTAMP_ADD(TIMESTAMP '$day 00:00:00+00', INTERVAL a.i * 60 + b.i MINUTE),
           CONCAT('doc-$day-', CAST(a.i * 10 + b.i AS STRING)), 'ctx', 'release', a.i * 10 + b.i
    FROM d AS a CROSS JOIN d AS b"
done
run show $P.$I | sed -n '/^Partitions/,$p'

step "3. A careless job overwrites 2020-03-03 with 3 rows"
at 2020-03-05T09:00:00Z
run sql --project $P --destination-table "$I\$20200303" --replace \
  "SELECT * FROM $I WHERE DATE(submission_timestamp) = '2020-03-03' AND sample_id < 3"
run sql --project $P "SELECT DATE(submission_timestamp) AS day, count(*) AS pings FROM $I GROUP BY 1 ORDER BY 1"

step "4. Time travel: the table as it was before the overwrite"
at 2020-03-05T10:00:00Z
run sql --project $P "SELECT DATE(submission_timestamp) AS day, count(*) AS pings
  FROM $I FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 HOUR) GROUP BY 1 ORDER BY 1"

step "5. The old day is copied into a restricted sandbox; outsiders are refused"
run dataset create $P.sandbox_restricted --restricted --readers carol
run sql --project $P "CREATE TABLE sandbox_restricted.topsites_impression_20200303 AS (
  SELECT * FROM $I FOR SYSTEM_TIME AS OF '2020-03-05 08:00:00+00' WHERE DATE(submission_timestamp) = '2020-03-03')"
set +e
run --as mallory sql --project $P "SELECT count(*) FROM sandbox_restricted.topsites_impression_20200303"
code=$?
set -e
echo "   -> exit code $code (3 = refused by a safety check)"
[ "$code" -eq 3 ] || { echo "expected the read to be refused with exit 3" >&2; exit 1; }
run --as carol sql --project $P "SELECT count(*) AS rescued_rows FROM sandbox_restricted.topsites_impression_20200303"

step "6. A time-travel read past the 7-day window is refused with the earliest readable time"
at 2020-03-13T10:00:00Z
set +e
run sql --project $P "SELECT count(*) FROM $I FOR SYSTEM_TIME AS OF '2020-03-05 08:00:00+00'"
code=$?
set -e
echo "   -> exit code $code"
[ "$code" -eq 3 ] || { echo "expected exit 3" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Error replay: on 2020-03-16..18 the live sink hit the BigQuery API rate limit while looking up
# table metadata and wrote good records to error output instead of failing. The live sink is
# gcp-ingestion's ingestion-sink: its error output is the failed messages unchanged, in its
# default `raw` format (attributes as top-level fields, payload in base64), without error
# attributes.
Q=moz-fx-data-backfill-1
INCIDENT=testdata/incident

step "6b. The week before the incident ran normally: 27 pings a day per contextual-services table, 10 of telemetry events"
at 2020-03-16T00:30:00Z
for spec in contextual_services_live.topsites_click_v1:27 contextual_services_live.quicksuggest_impression_v1:27 telemetry_live.event_v4:10; do
  table=${spec%:*} per_day=${spec#*:}
  "$BF" sql --project $P "INSERT INTO $table (submission_timestamp, document_id, normalized_channel, sample_id)
    WITH d AS (SELECT 0 AS i UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
               UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)
    SELECT TIMESTAMP_ADD(TIMESTAMP '2020-03-09 04:00:00+00', INTERVAL w.i * 1440 + a.i * 300 + b.i * 30 MINUTE),
           CONCAT('week-', CAST(w.i AS STRING), '-', CAST(a.i * 10 + b.i AS STRING)), 'release', a.i * 10 + b.i
    FROM d AS w CROSS JOIN d AS a CROSS JOIN d AS b WHERE w.i < 7 AND a.i * 10 + b.i < $per_day" > /dev/null
done
run copy-deduplicate --project $P -o '*_live.*' --dates 2020-03-09..2020-03-15 | tail -n 1

step "7. What did land: the live tables got part of the pings; the nightly job built the stable days"
at 2020-03-19T00:30:00Z
run sink --input $INCIDENT/live --project $P | tail -n 4
run copy-deduplicate --project $P -o '*_live.*' --dates 2020-03-16..2020-03-18 | tail -n 1
echo "   The error output holds the rest: $(find $INCIDENT/error -name '*.ndjson.gz' | wc -l) files over 3 days, e.g.:"
{ zcat $INCIDENT/error/2020-03-16/04/output-20200316-04.ndjson.gz || true; } | sed -n "1,1p" | cut -c1-150 | sed 's/^/   /'
echo "   (ingestion-sink writes failed messages unchanged: no error_type to filter on; the plan selects by namespace)"

step "7b. Triage: what went to error output, per table and day (streamed from the files, no warehouse needed)"
run errors summarize $INCIDENT/error --by table,day --dates 2020-03-16..2020-03-18

step "7c. Where production has holes: rows per table and day against the week before (exit 1 = a hole)"
at 2020-03-19T10:00:00Z
GAPS=(gaps $P -o contextual_services_live.topsites_click_v1 -o contextual_services_live.quicksuggest_impression_v1
  -o telemetry_live.event_v4 --dates 2020-03-16..2020-03-18 --by day)
set +e
run "${GAPS[@]}" --html demo/gaps-before.html
code=$?
set -e
echo "   -> exit code $code"
[ "$code" -eq 1 ] || { echo "expected gaps to find the holes (exit 1)" >&2; exit 1; }

step "8. The recovery drafted from the triage as one plan: stage, mirror, sink, append, copy-deduplicate, cleanup"
at 2020-03-19T10:00:00Z
rm -rf demo/staged demo/replay-errors demo/*.report.* demo/error-replay.toml
"$BF" errors summarize $INCIDENT/error --by table,day --dates 2020-03-16..2020-03-18 --format json > demo/triage.json
echo "   ingestion-sink's raw error output keeps no reason, so the SRE decides: the records were good"
echo "   (the rate-limit incident), except org-mozilla-fenix, which failed for another reason."
run plan new --template error-replay --from-triage demo/triage.json --include-unclassified \
  -x 'org_mozilla_fenix_live.*' --out demo/error-replay.toml
sed -n '1,/^\[\[step\]\]/p' demo/error-replay.toml | sed '$d' | sed 's/^/   /'
grep -E '^(kind|only|where|dates) ' demo/error-replay.toml | sed 's/^/   /'
echo "   (the hand-written plan testdata/demo/plans/error-replay-2020-03.toml recovers the same rows: TriageScenarioTest)"

step "9. Preview: the plan is rehearsed on a scratch copy of the warehouse (nothing is written)"
run plan demo/error-replay.toml | grep -vE '^   (checks|result):'

step "9b. The same plan rendered for BigQuery (GoogleSQL files and run.sh with bq and gcloud storage), for the review ticket"
rm -rf demo/bigquery-error-replay
run render demo/error-replay.toml --target bigquery --out demo/bigquery-error-replay \
  --bucket-map ../testdata/incident/error=gs://moz-fx-data-prod-ingestion-error/error \
  --bucket-map staged=gs://moz-fx-data-backfill-1-staging/staged \
  --bucket-map replay-errors=gs://moz-fx-data-backfill-1-staging/replay-errors | tail -n 4
ls demo/bigquery-error-replay | sed -n "1,8p" | sed 's/^/   /'
echo "   ... $(ls demo/bigquery-error-replay | wc -l) files"

step "10. Apply: each step journaled; a crash resumes where it stopped. The report shows the hole filled"
run apply demo/error-replay.toml | tail -n 12
echo "   Applying again changes nothing:"
run apply demo/error-replay.toml | sed -n "1,1p"
sed -n '/^## Rows per table and day/,/^## Validations/p' demo/error-replay.report.md | sed -n "1,24p"

step "10b. The holes are filled: gaps finds none (exit 0)"
run "${GAPS[@]}" --html demo/gaps-after.html
echo "   Charts of rows per day, the week before and the incident: demo/gaps-before.html, demo/gaps-after.html"

step "11. Every change is in the audit log"
run audit --project $P | grep -vE "create (table|dataset)" | cut -c1-150 | tail -n 15

# ---------------------------------------------------------------------------------------------
# Rescue: a derived table loses its older days to a careless re-run; time travel brings them back.
D=contextual_services_derived.topsites_clicks_v1
S=backfill-sandbox.rescue_restricted.topsites_clicks_v1

step "12. A derived table of daily clicks, built by a query, 40 days of history; sources keep 30 days"
at 2020-04-01T00:00:00Z
run dataset update $P.contextual_services_live --partition-expiration-days 30
run dataset create $P.contextual_services_derived
run table create $P.$D --schema testdata/demo/topsites_clicks_v1.bq --partition-by submission_date \
  --query testdata/demo/topsites_clicks_v1.sql
run sql --project $P "INSERT INTO $T (submission_timestamp, document_id, context_id, normalized_channel)
  WITH d AS (SELECT 0 AS i UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
             UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)
  SELECT TIMESTAMP_ADD(TIMESTAMP '2020-02-21 08:00:00+00', INTERVAL a.i * 10 + b.i DAY),
         CONCAT('hist-', CAST(a.i * 10 + b.i AS STRING), '-', CAST(c.i AS STRING)), CONCAT('ctx-', CAST(c.i AS STRING)),
         IF(c.i < 7, 'release', 'beta')
  FROM d AS a CROSS JOIN d AS b CROSS JOIN d AS c WHERE a.i < 4"
run rerun $P.$D --dates 2020-02-21..2020-03-31 | tail -n 3
run dataset update $P.contextual_services_derived --protected

step "13. Retention: source days older than 30 days expire"
at 2020-04-01T02:00:00Z
run maintain | tail -n 3

step "14. A careless re-run of all 40 days is refused: it would destroy the days whose sources expired"
at 2020-04-01T03:00:00Z
set +e
run rerun $P.$D --dates 2020-02-21..2020-03-31 2>&1 | sed -n "1,4p"
set -e
echo "   ... someone forces it anyway, with an approved --allow-data-loss:"
run request create -- rerun $P.$D --dates 2020-02-21..2020-03-31 --allow-data-loss | tail -n 2
run --as bob request approve R1 | tail -n 1
run rerun $P.$D --dates 2020-02-21..2020-03-31 --allow-data-loss --request R1 | tail -n 2
run show $P.$D | grep "rows:"

step "15. Two days later: the rescue as a plan (snapshot as of before the wipe, restore the missing days, validate, drop)"
at 2020-04-03T09:00:00Z
run project create backfill-sandbox
cp testdata/demo/plans/rescue-topsites-clicks.toml demo/
run plan demo/rescue-topsites-clicks.toml | grep -vE '^   (checks|result):' | sed -n '1,40p'

step "16. The plan restores into a protected dataset: applying needs a second person's approval"
set +e
run apply demo/rescue-topsites-clicks.toml 2>&1 | tail -n 1
code=$?
set -e
set +e
run approve demo/rescue-topsites-clicks.toml 2>&1 | tail -n 1
set -e
run --as bob approve demo/rescue-topsites-clicks.toml | sed -n "1,1p"

step "17. Apply: snapshot, restore, validate, drop; the report shows the wiped days back"
run apply demo/rescue-topsites-clicks.toml | tail -n 9
run show $P.$D | grep "rows:"
echo "   Report: demo/rescue-topsites-clicks.report.html (and .md)"

echo
echo "Demo warehouse left in $BACKFILL_WAREHOUSE (open a project with: duckdb $BACKFILL_WAREHOUSE/projects/$P.duckdb)"
