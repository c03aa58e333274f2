-- Operations per day; the op's prefix (before the first ':') is its area.
SELECT
  DATE(submission_timestamp) AS submission_date,
  REGEXP_EXTRACT(op, r'^([^:]+)') AS area,
  op,
  COUNT(*) AS events
FROM
  `moz-fx-data-shared-prod.firefox_accounts_stable.amplitude_event_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  area,
  op
