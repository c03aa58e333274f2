-- One row per document: the live table may hold a document twice.
SELECT
  * EXCEPT (additional_properties)
FROM
  `moz-fx-data-shared-prod.contextual_services_live.quicksuggest_impression_v1`
WHERE
  DATE(submission_timestamp) = @submission_date
QUALIFY
  ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY submission_timestamp) = 1
