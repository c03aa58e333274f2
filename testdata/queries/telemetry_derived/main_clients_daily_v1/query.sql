-- Per-client daily aggregates of main pings.
SELECT
  DATE(submission_timestamp) AS submission_date,
  client_id,
  COUNT(*) AS pings,
  ANY_VALUE(normalized_channel) AS channel,
  ANY_VALUE(environment.system.os.name) AS os,
  LOGICAL_OR(environment.settings.is_default_browser) AS is_default_browser,
  MAX(environment.settings.locale) AS locale
FROM
  `moz-fx-data-shared-prod.telemetry_stable.main_v5`
WHERE
  DATE(submission_timestamp) = @submission_date
  AND client_id IS NOT NULL
GROUP BY
  submission_date,
  client_id
