-- Searches with ads per engine: the labeled counter's keys are "engine.source".
SELECT
  DATE(submission_timestamp) AS submission_date,
  SPLIT(search.key, '.')[SAFE_OFFSET(0)] AS engine,
  SUM(search.value) AS searches_with_ads
FROM
  `moz-fx-data-shared-prod.org_mozilla_fenix_stable.metrics_v1` AS m
CROSS JOIN
  UNNEST(m.metrics.labeled_counter.browser_search_with_ads) AS search
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  engine
