SELECT
  DATE(submission_timestamp) AS submission_date,
  advertiser,
  metadata.geo.country AS country,
  COUNT(*) AS clicks
FROM
  `moz-fx-data-shared-prod.contextual_services_stable.quicksuggest_click_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  1,
  2,
  3
