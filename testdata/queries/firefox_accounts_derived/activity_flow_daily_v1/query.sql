SELECT
  DATE(submission_timestamp) AS submission_date,
  STRUCT(normalized_os AS os, normalized_os_version AS version) AS platform,
  COUNT(*) AS flows
FROM
  `moz-fx-data-shared-prod.firefox_accounts_stable.activity_flow_metrics_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  normalized_os,
  normalized_os_version
