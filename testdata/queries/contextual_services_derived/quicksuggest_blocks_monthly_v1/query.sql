-- Blocks in the month of @submission_date, labelled as in the monthly report.
SELECT
  FORMAT_DATE('%Y-%m', @submission_date) AS month,
  DATE_TRUNC(DATE(submission_timestamp), MONTH) AS month_start,
  IFNULL(advertiser, 'unknown') AS advertiser,
  COUNT(*) AS blocks
FROM
  `moz-fx-data-shared-prod.contextual_services_stable.quicksuggest_block_v1`
WHERE
  DATE(submission_timestamp)
  BETWEEN DATE_TRUNC(@submission_date, MONTH)
  AND @submission_date
GROUP BY
  month,
  month_start,
  advertiser
