WITH employment AS (
    SELECT user_id,
           CASE WHEN count(*) = count(period_start) THEN min(period_start) END AS started,
           CASE WHEN count(*) = count(period_end) THEN max(period_end) END AS ended
    FROM workforce_role GROUP BY user_id
)
SELECT a.user_id, a.patient_id, a.local_day AS day,
       min(a.time) AS first_seen, max(a.time) AS last_seen,
       list(a.event_id ORDER BY a.time) AS event_ids, count(*) AS accesses,
       any_value(p.given_name || ' ' || p.family_name) AS patient_name,
       any_value(CASE WHEN a.time > e.ended THEN 'ended' ELSE 'began only' END) AS employment,
       -- the last moment employed (the end is exclusive), or the first
       any_value(CASE WHEN a.time > e.ended THEN e.ended - INTERVAL 1 MICROSECOND
                      ELSE e.started END) AS boundary
FROM access_explanation a
JOIN employment e ON e.user_id = a.user_id
LEFT JOIN patient p ON p.patient_id = a.patient_id
WHERE a.time > e.ended OR a.time < e.started
GROUP BY ALL
