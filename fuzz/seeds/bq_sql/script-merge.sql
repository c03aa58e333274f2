DECLARE n INT64 DEFAULT 5;
DECLARE d, e DATE DEFAULT '2020-03-17';
SET (n, d) = (n + 1, DATE_ADD(d, INTERVAL 1 DAY));
MERGE `moz-fx-data-shared-prod.telemetry_stable.main_v5` AS T
USING (SELECT document_id, n AS sample_id FROM telemetry_live.main_v5 WHERE DATE(submission_timestamp) = d) AS S
ON T.document_id = S.document_id
WHEN MATCHED AND S.sample_id > n THEN UPDATE SET sample_id = S.sample_id
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED BY SOURCE AND T.sample_id IS NULL THEN DELETE
WHEN NOT MATCHED THEN INSERT (document_id, sample_id) VALUES (S.document_id, S.sample_id);
UPDATE telemetry_stable.main_v5 t SET sample_id = n FROM (SELECT 'a' AS id) s WHERE t.document_id = s.id;
SELECT x FROM telemetry_stable.main_v5 AS m, m.arr AS x WHERE x IN UNNEST([n]) AND ARRAY(SELECT 1) IS NOT NULL
