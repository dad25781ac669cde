SELECT a.user_id, a.patient_id, a.local_day AS day,
       min(a.time) AS first_seen, max(a.time) AS last_seen,
       list(a.event_id ORDER BY a.time) AS event_ids, count(*) AS accesses,
       any_value(p.given_name || ' ' || p.family_name) AS patient_name,
       any_value(p.deceased_at) AS deceased_at,
       any_value(date_diff('day', p.deceased_at, a.time)) AS days_dead
FROM access_explanation a
JOIN patient p ON p.patient_id = a.patient_id
WHERE a.reason IS NULL
  AND p.deceased_at IS NOT NULL
  AND a.time > p.deceased_at + to_days(CAST($deceased_days AS INTEGER))
  AND NOT EXISTS (
      SELECT 1 FROM encounter e
      WHERE e.patient_id = a.patient_id AND coalesce(e.period_end, e.period_start) >= p.deceased_at
  )
GROUP BY ALL
