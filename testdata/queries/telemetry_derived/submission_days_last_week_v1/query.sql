-- For each of the seven days up to @submission_date, how many event pings arrived (0 when
-- none): the check run before a backfill of a week.
WITH days AS (
  SELECT
    day
  FROM
    UNNEST(GENERATE_DATE_ARRAY(DATE_SUB(@submission_date, INTERVAL 6 DAY), @submission_date)) AS day
),
counts AS (
  SELECT
    DATE(submission_timestamp) AS day,
    COUNT(*) AS pings
  FROM
    `moz-fx-data-shared-prod.telemetry_stable.event_v4`
  WHERE
    DATE(submission_timestamp)
    BETWEEN DATE_SUB(@submission_date, INTERVAL 6 DAY)
    AND @submission_date
  GROUP BY
    day
)
SELECT
  days.day,
  COALESCE(counts.pings, 0) AS pings
FROM
  days
LEFT JOIN
  counts
  USING (day)
ORDER BY
  day
