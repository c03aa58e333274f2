-- Clicks per experiment branch.
SELECT
  DATE(submission_timestamp) AS submission_date,
  experiment.key AS experiment,
  experiment.value.branch AS branch,
  COUNT(*) AS clicks
FROM
  `moz-fx-data-shared-prod.contextual_services_stable.topsites_click_v1` AS click
CROSS JOIN
  UNNEST(click.experiments) AS experiment
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  experiment,
  branch
