-- Runbook: after a replay appended records into a live table, rebuild that day of the stable
-- table by hand (what copy_deduplicate does: one row per document_id, the earliest submission
-- first), keep a per-day count table up to date with MERGE, and check the result, as an SRE
-- pastes it into the BigQuery console. Run with --parameter submission_date:DATE:YYYY-MM-DD.
DECLARE run_date DATE DEFAULT @submission_date;
DECLARE live_documents INT64;
DECLARE stable_before INT64;

SET live_documents = (
  SELECT COUNT(DISTINCT document_id)
  FROM `moz-fx-data-shared-prod.telemetry_live.event_v4`
  WHERE DATE(submission_timestamp) = run_date
);
SET stable_before = (
  SELECT COUNT(*)
  FROM `moz-fx-data-shared-prod.telemetry_stable.event_v4`
  WHERE DATE(submission_timestamp) = run_date
);

DELETE FROM `moz-fx-data-shared-prod.telemetry_stable.event_v4`
WHERE DATE(submission_timestamp) = run_date;

INSERT INTO `moz-fx-data-shared-prod.telemetry_stable.event_v4`
SELECT * EXCEPT (_n)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY submission_timestamp) AS _n
  FROM `moz-fx-data-shared-prod.telemetry_live.event_v4`
  WHERE DATE(submission_timestamp) = run_date
)
WHERE _n = 1;

MERGE `moz-fx-data-shared-prod.runbook.event_documents_daily` AS t
USING (
  SELECT DATE(submission_timestamp) AS submission_date, COUNT(*) AS documents
  FROM `moz-fx-data-shared-prod.telemetry_stable.event_v4`
  WHERE DATE(submission_timestamp) = run_date
  GROUP BY 1
) AS s
ON t.submission_date = s.submission_date
WHEN MATCHED THEN UPDATE SET documents = s.documents
WHEN NOT MATCHED THEN INSERT (submission_date, documents) VALUES (s.submission_date, s.documents);

SELECT
  run_date AS day,
  live_documents,
  stable_before,
  (
    SELECT COUNT(*)
    FROM `moz-fx-data-shared-prod.telemetry_stable.event_v4`
    WHERE DATE(submission_timestamp) = run_date
  ) AS stable_after,
  (
    SELECT SUM(documents)
    FROM `moz-fx-data-shared-prod.runbook.event_documents_daily`
    WHERE submission_date = run_date
  ) AS counted;
