-- Legacy telemetry events, one row per event of the content process.
SELECT
  DATE(submission_timestamp) AS submission_date,
  client_id,
  document_id,
  event_offset,
  event.f0_ AS event_timestamp,
  event.f1_ AS event_category,
  event.f2_ AS event_method,
  event.f3_ AS event_object,
  event.f4_ AS event_string_value,
  TO_JSON_STRING(event.f5_) AS event_map_values
FROM
  `moz-fx-data-shared-prod.telemetry_stable.event_v4`,
  UNNEST(payload.events.content) AS event WITH OFFSET AS event_offset
WHERE
  DATE(submission_timestamp) = @submission_date
