-- One user-level alert per (user, day) with every unexplained access of the flagged hours.
WITH hours AS (
    SELECT user_id, date_trunc('hour', time) AS hour, min(local_day) AS day
    FROM access_explanation
    WHERE reason IS NULL
    GROUP BY ALL
    HAVING count(DISTINCT patient_id) >= $bulk_patients_per_hour
), hits AS (
    SELECT x.user_id, x.patient_id, x.event_id, x.time, h.hour, h.day,
           TRY_CAST(regexp_extract(p.mrn, '([0-9]+)\s*$', 1) AS BIGINT) AS mrn_number
    FROM access_explanation x
    JOIN hours h ON h.user_id = x.user_id AND date_trunc('hour', x.time) = h.hour
    LEFT JOIN patient p ON p.patient_id = x.patient_id
    WHERE x.reason IS NULL
), mrns AS (
    SELECT user_id, day, list(DISTINCT mrn_number) AS numbers
    FROM hits GROUP BY ALL
)
SELECT h.user_id, NULL::VARCHAR AS patient_id, h.day AS day,
       min(h.time) AS first_seen, max(h.time) AS last_seen,
       list(h.event_id ORDER BY h.time) AS event_ids,
       count(DISTINCT h.patient_id) AS patients, count(DISTINCT h.hour) AS hours,
       CASE WHEN any_value(len(list_filter(m.numbers,
                 lambda n: list_contains(m.numbers, n + 1)))) >= 5
            THEN ', walking consecutive MRNs' ELSE '' END AS mrn_note
FROM hits h JOIN mrns m ON m.user_id = h.user_id AND m.day = h.day
GROUP BY h.user_id, h.day
