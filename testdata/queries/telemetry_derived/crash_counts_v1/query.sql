SELECT
  DATE(submission_timestamp) AS submission_date,
  normalized_os,
  payload.process_type,
  COUNT(*) AS crashes,
  COUNTIF(payload.has_crash_environment) AS with_environment
FROM
  `moz-fx-data-shared-prod.telemetry_stable.crash_v4`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  1,
  2,
  3
