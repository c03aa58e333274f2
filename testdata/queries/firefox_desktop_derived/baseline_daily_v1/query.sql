SELECT
  DATE(submission_timestamp) AS submission_date,
  normalized_channel,
  normalized_os,
  COUNT(*) AS pings,
  COUNT(DISTINCT client_info.client_id) AS clients,
  ROUND(AVG(metrics.timespan.glean_baseline_duration.value), 1) AS avg_duration
FROM
  `moz-fx-data-shared-prod.firefox_desktop_stable.baseline_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  normalized_channel,
  normalized_os
