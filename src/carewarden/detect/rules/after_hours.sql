WITH local AS (
    SELECT x.*, x.local_hour AS h
    FROM access_explanation x
), worked AS (
    -- (user, day, hour) with an explained access, grouped once: cheaper than distinct
    -- aggregates over every access
    SELECT user_id, local_day, h FROM local WHERE reason IS NOT NULL GROUP BY ALL
), habits AS (
    -- the hours of day the user works: any explained access at that hour
    SELECT user_id, list(DISTINCT h) AS hours, count(DISTINCT local_day) AS days,
           min(h) AS first_hour, max(h) AS last_hour
    FROM worked GROUP BY user_id
    HAVING count(DISTINCT local_day) >= $after_hours_min_days
)
-- one user-level alert per (user, day): a night of harvesting is one event, not hundreds
SELECT l.user_id, NULL::VARCHAR AS patient_id, l.local_day AS day,
       min(l.time) AS first_seen, max(l.time) AS last_seen,
       list(l.event_id ORDER BY l.time) AS event_ids, count(*) AS accesses,
       count(DISTINCT l.patient_id) AS patients,
       'usually ' || any_value(hb.days) || ' days between ' || any_value(hb.first_hour)
           || ':00 and ' || any_value(hb.last_hour) || ':59' AS usual
FROM local l
JOIN habits hb ON hb.user_id = l.user_id
WHERE l.reason IS NULL
  AND NOT list_bool_or(list_transform(hb.hours, lambda w:
        least(abs(w - l.h), 24 - abs(w - l.h)) <= $after_hours_margin))
GROUP BY l.user_id, l.local_day
