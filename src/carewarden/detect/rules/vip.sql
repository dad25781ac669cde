SELECT x.user_id, x.patient_id, x.local_day AS day,
       min(x.time) AS first_seen, max(x.time) AS last_seen,
       list(x.event_id ORDER BY x.time) AS event_ids, count(*) AS accesses,
       any_value(p.given_name || ' ' || p.family_name) AS patient_name,
       CASE WHEN list_contains(any_value(p.confidentiality), 'V') THEN 'very restricted (V)'
            ELSE 'restricted (R)' END AS label,
       -- a single look at a VIP then in care may be a transfer: still shown, ranked lower
       CASE WHEN bool_and(x.patient_active) AND count(*) = 1 THEN 55
            WHEN list_contains(any_value(p.confidentiality), 'V') THEN 80 ELSE 75 END AS score
FROM access_explanation x
JOIN patient p ON p.patient_id = x.patient_id
WHERE x.reason IS NULL
  AND (list_contains(p.confidentiality, 'R') OR list_contains(p.confidentiality, 'V'))
GROUP BY x.user_id, x.patient_id, x.local_day
