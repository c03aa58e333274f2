-- Bugs per keyword as of @submission_date, with the year they were filed.
SELECT
  @submission_date AS submission_date,
  keyword,
  EXTRACT(YEAR FROM PARSE_DATE('%Y-%m-%d', SPLIT(creation_ts, ' ')[SAFE_OFFSET(0)])) AS filed_year,
  COUNT(DISTINCT bug_id) AS bugs
FROM
  `moz-fx-data-shared-prod.eng_workflow_stable.bmobugs_v1` AS bug
CROSS JOIN
  UNNEST(bug.keywords) AS keyword
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  keyword,
  filed_year
