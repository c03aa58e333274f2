SELECT
  DATE(submission_timestamp) AS submission_date,
  client_info.client_id AS client_id,
  COUNT(*) AS baseline_pings,
  SUM(metrics.timespan.glean_baseline_duration.value) AS duration_sum,
  ANY_VALUE(client_info.app_display_version) AS app_display_version,
  ANY_VALUE(normalized_country_code) AS country,
  MIN(SAFE_CAST(client_info.first_run_date AS DATE)) AS first_run_date
FROM
  `moz-fx-data-shared-prod.org_mozilla_fenix_stable.baseline_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  client_id
