-- Impressions per tile position, with the share of them on the release channel.
SELECT
  @submission_date AS submission_date,
  position,
  COUNT(*) AS impressions,
  COUNTIF(normalized_channel = 'release') AS release_impressions,
  SAFE_DIVIDE(COUNTIF(normalized_channel = 'release'), COUNT(*)) AS release_share
FROM
  `moz-fx-data-shared-prod.contextual_services_stable.topsites_impression_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  position
