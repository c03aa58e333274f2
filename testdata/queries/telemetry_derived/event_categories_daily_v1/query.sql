SELECT
  DATE(submission_timestamp) AS submission_date,
  event.f1_ AS category,
  COUNT(*) AS events,
  COUNT(DISTINCT client_id) AS clients
FROM
  `moz-fx-data-shared-prod.telemetry_stable.event_v4` AS e
LEFT JOIN
  UNNEST(e.payload.events.dynamic) AS event
WHERE
  DATE(submission_timestamp) = @submission_date
GROUP BY
  submission_date,
  category
