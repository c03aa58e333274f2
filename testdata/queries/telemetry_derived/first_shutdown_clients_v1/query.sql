-- Clients whose first session ended on @submission_date, deduplicated per client.
WITH pings AS (
  SELECT
    client_id,
    submission_timestamp,
    normalized_country_code
  FROM
    `moz-fx-data-shared-prod.telemetry_stable.first_shutdown_v5`
  WHERE
    DATE(submission_timestamp) = @submission_date
)
SELECT
  @submission_date AS submission_date,
  client_id,
  normalized_country_code AS country
FROM
  pings
WHERE
  TRUE  -- BigQuery accepts QUALIFY only with WHERE, GROUP BY or HAVING
QUALIFY
  ROW_NUMBER() OVER (PARTITION BY client_id ORDER BY submission_timestamp DESC) = 1
