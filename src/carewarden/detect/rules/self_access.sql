-- One row per (user, patient, UTC day) where the user's identity matches the patient's.
SELECT a.user_id, a.patient_id, a.local_day AS day,
       min(a.time) AS first_seen, max(a.time) AS last_seen,
       list(a.event_id ORDER BY a.time) AS event_ids, count(*) AS accesses,
       any_value(w.given_name || ' ' || w.family_name) AS user_name,
       any_value(p.given_name || ' ' || p.family_name) AS patient_name,
       any_value(p.birth_date) AS birth_date
FROM access_explanation a
JOIN workforce w ON w.user_id = a.user_id
JOIN patient p ON p.patient_id = a.patient_id
WHERE lower(w.family_name) = lower(p.family_name)
  AND first_given(w.given_name) = first_given(p.given_name)
  AND w.birth_date = p.birth_date
GROUP BY ALL
