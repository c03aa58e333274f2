SELECT
  DATE(submission_timestamp) AS submission_date,
  experiment.key AS experiment,
  experiment.value.branch AS branch,
  COUNT(DISTINCT client_info.client_id) AS clients
FROM
  `moz-fx-data-shared-prod.org_mozilla_fenix_stable.baseline_v1` AS b,
  UNNEST(b.ping_info.experiments) AS experiment
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  1,
  2,
  3
