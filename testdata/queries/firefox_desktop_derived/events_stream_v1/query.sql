-- One row per event, its extras as a JSON object text, ordered within the ping.
SELECT
  DATE(submission_timestamp) AS submission_date,
  client_info.client_id,
  TIMESTAMP_TRUNC(submission_timestamp, HOUR) AS submission_hour,
  CONCAT(event.category, '.', event.name) AS event,
  event_offset,
  TO_JSON_STRING(event.extra) AS extras
FROM
  `moz-fx-data-shared-prod.firefox_desktop_stable.events_v1` AS p
CROSS JOIN
  UNNEST(p.events) AS event WITH OFFSET AS event_offset
WHERE
  DATE(submission_timestamp) = @submission_date
  AND REGEXP_CONTAINS(event.category, r'^[a-z_.]+$')
