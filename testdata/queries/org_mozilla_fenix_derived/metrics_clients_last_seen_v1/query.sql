-- Clients seen in the 28 days up to @submission_date and the last day each was seen.
SELECT
  @submission_date AS submission_date,
  client_info.client_id AS client_id,
  MAX(DATE(submission_timestamp)) AS last_seen_date,
  DATE_DIFF(@submission_date, MAX(DATE(submission_timestamp)), DAY) AS days_since_seen,
  ARRAY_AGG(DISTINCT normalized_channel IGNORE NULLS) AS channels
FROM
  `moz-fx-data-shared-prod.org_mozilla_fenix_stable.metrics_v1`
WHERE
  DATE(submission_timestamp)
  BETWEEN DATE_SUB(@submission_date, INTERVAL 27 DAY)
  AND @submission_date
GROUP BY
  client_id
