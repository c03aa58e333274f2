SELECT
  DATE(submission_timestamp) AS submission_date,
  repository,
  IFNULL(review_system_used, 'none') AS review_system,
  COUNT(*) AS pushes,
  COUNT(DISTINCT changeset_id) AS changesets
FROM
  `moz-fx-data-shared-prod.eng_workflow_stable.hgpush_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  1,
  2,
  3
