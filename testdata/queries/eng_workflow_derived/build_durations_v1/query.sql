SELECT
  DATE(submission_timestamp) AS submission_date,
  command,
  COUNTIF(success) AS succeeded,
  COUNTIF(NOT success) AS failed,
  SAFE_DIVIDE(SUM(duration_ms), COUNT(*)) AS mean_duration_ms
FROM
  `moz-fx-data-shared-prod.eng_workflow_stable.build_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  command
