SELECT * EXCEPT (payload) FROM `moz-fx-data-shared-prod.telemetry_live.main_v1` AS m
  FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 12 HOUR)
WHERE DATE(submission_timestamp) = "2020-03-17"
QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY submission_timestamp) = 1;
