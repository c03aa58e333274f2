-- Top sites clicks per day, channel and country.
SELECT
  DATE(submission_timestamp) AS submission_date,
  normalized_channel,
  IFNULL(normalized_country_code, '??') AS country_code,
  COUNT(*) AS clicks,
  COUNT(DISTINCT context_id) AS contexts
FROM
  `moz-fx-data-shared-prod.contextual_services_stable.topsites_click_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  normalized_channel,
  country_code
