-- A sliding hour: for each unexplained access, the distinct unexplained patients the user
-- opened in the 60 minutes up to it. Every access inside a window that reaches the
-- threshold is evidence; one user-level alert per (user, site day).
WITH unexplained AS (
    SELECT user_id, patient_id, event_id, time, local_day
    FROM access_explanation
    WHERE reason IS NULL
), windows AS (
    SELECT *, count(DISTINCT patient_id) OVER (
                  PARTITION BY user_id ORDER BY time
                  RANGE BETWEEN INTERVAL 60 MINUTE PRECEDING AND CURRENT ROW) AS in_hour
    FROM unexplained
), peaks AS (
    SELECT user_id, time AS peak_end
    FROM windows WHERE in_hour >= $bulk_patients_per_hour
), hits AS (
    SELECT DISTINCT u.user_id, u.patient_id, u.event_id, u.time, u.local_day AS day
    FROM unexplained u
    JOIN peaks k ON k.user_id = u.user_id
                AND u.time BETWEEN k.peak_end - INTERVAL 60 MINUTE AND k.peak_end
), numbered AS (
    SELECT h.*, TRY_CAST(regexp_extract(p.mrn, '([0-9]+)\s*$', 1) AS BIGINT) AS mrn_number
    FROM hits h LEFT JOIN patient p ON p.patient_id = h.patient_id
), mrns AS (
    SELECT user_id, day, list(DISTINCT mrn_number) AS numbers
    FROM numbered GROUP BY ALL
)
SELECT n.user_id, NULL::VARCHAR AS patient_id, n.day AS day,
       min(n.time) AS first_seen, max(n.time) AS last_seen,
       list(n.event_id ORDER BY n.time) AS event_ids,
       count(DISTINCT n.patient_id) AS patients,
       greatest(1, ceil(date_diff('minute', min(n.time), max(n.time)) / 60))::INTEGER AS hours,
       CASE WHEN any_value(len(list_filter(m.numbers,
                 lambda x: list_contains(m.numbers, x + 1)))) >= 5
            THEN ', walking consecutive MRNs' ELSE '' END AS mrn_note
FROM numbered n JOIN mrns m ON m.user_id = n.user_id AND m.day = n.day
GROUP BY n.user_id, n.day
