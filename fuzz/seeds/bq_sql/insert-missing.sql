-- restore the days that are missing
INSERT INTO `moz-fx-data-shared-prod`.telemetry_derived.clients_daily_v6 (submission_date, client_id, n)
WITH missing AS (
  SELECT DISTINCT submission_date FROM backfill_restricted.snap
  WHERE submission_date NOT IN (SELECT DISTINCT submission_date FROM telemetry_derived.clients_daily_v6)
)
SELECT s.submission_date, s.client_id, SAFE_CAST(s.n AS INT64) FROM backfill_restricted.snap s
JOIN missing USING (submission_date)
WHERE s.submission_date BETWEEN DATE '2020-03-16' AND DATE_ADD(@submission_date, INTERVAL 1 DAY);
