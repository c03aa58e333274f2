-- Glean events, one row per event, with the `url` extra pulled out of the key/value list.
SELECT
  DATE(e.submission_timestamp) AS submission_date,
  e.client_info.client_id,
  e.document_id,
  event_offset,
  event.category,
  event.name AS event_name,
  event.timestamp AS event_timestamp,
  (SELECT x.value FROM UNNEST(event.extra) AS x WHERE x.key = 'url') AS url,
  ARRAY_LENGTH(event.extra) AS extra_count
FROM
  `moz-fx-data-shared-prod.org_mozilla_fenix_stable.events_v1` AS e
CROSS JOIN
  UNNEST(e.events) AS event WITH OFFSET AS event_offset
WHERE
  DATE(e.submission_timestamp) = @submission_date
