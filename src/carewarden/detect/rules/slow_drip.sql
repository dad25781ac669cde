-- One user-level alert per user, keyed on the first drip day: later drip days add to it.
WITH days AS (
    SELECT user_id, local_day AS day, count(DISTINCT patient_id) AS patients
    FROM access_explanation
    WHERE reason IS NULL AND NOT patient_active
    GROUP BY ALL
    HAVING count(DISTINCT patient_id) >= $slow_drip_patients_per_day
), users AS (
    SELECT user_id, count(*) AS days, min(day) AS first_day, max(day) AS last_day,
           min(patients) AS per_day
    FROM days GROUP BY user_id
    HAVING count(*) >= $slow_drip_min_days
)
SELECT x.user_id, NULL::VARCHAR AS patient_id, any_value(u.first_day) AS day,
       min(x.time) AS first_seen, max(x.time) AS last_seen,
       list(x.event_id ORDER BY x.time) AS event_ids,
       count(DISTINCT x.patient_id) AS patients, any_value(u.days) AS days,
       any_value(u.per_day) AS per_day, any_value(u.first_day) AS first_day,
       any_value(u.last_day) AS last_day
FROM access_explanation x
JOIN days d ON d.user_id = x.user_id AND d.day = x.local_day
JOIN users u ON u.user_id = x.user_id
WHERE x.reason IS NULL AND NOT x.patient_active
GROUP BY x.user_id
HAVING count(DISTINCT x.patient_id) >= $slow_drip_min_patients
