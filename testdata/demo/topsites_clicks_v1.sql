SELECT
  DATE(submission_timestamp) AS submission_date,
  normalized_channel,
  COUNT(*) AS clicks,
  COUNT(DISTINCT context_id) AS contexts
FROM contextual_services_live.topsites_click_v1
WHERE DATE(submission_timestamp) = @submission_date
GROUP BY 1, 2
