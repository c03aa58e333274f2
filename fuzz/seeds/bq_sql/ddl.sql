CREATE OR REPLACE TABLE sandbox.rescue_restricted.t AS (SELECT *, IF(x > 1.5, 'a', r'b\n') AS y FROM d.t);
DELETE FROM d.t AS a WHERE a.submission_date = DATE '2020-03-17' AND a.n IS NULL;
DROP TABLE IF EXISTS `p.d.t`;
SELECT COUNTIF(n > 0), LOGICAL_AND(ok), EXTRACT(HOUR FROM ts), TIMESTAMP_TRUNC(ts, DAY)
FROM d.t UNION DISTINCT SELECT 1, TRUE, 2, CURRENT_TIMESTAMP() FROM d.u;
/* unterminated? no */ INSERT d.t VALUES (1, "two", NULL), (2, 'three', 4.5e3);
