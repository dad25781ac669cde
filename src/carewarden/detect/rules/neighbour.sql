-- Building: the address up to its unit (apt, suite…); street: the building without its number.
WITH candidates AS MATERIALIZED (
    -- the cheap test first: addresses are parsed only for people sharing a postal code
    SELECT x.event_id, x.user_id, x.patient_id, x.time, x.local_day, x.patient_active,
           p.given_name || ' ' || p.family_name AS patient_name,
           w.address_line AS user_line, p.address_line AS patient_line,
           lower(w.family_name) = lower(p.family_name) AS same_surname
    FROM access_explanation x
    JOIN workforce w ON w.user_id = x.user_id
    JOIN patient p ON p.patient_id = x.patient_id
    WHERE x.reason IS NULL AND w.address_line IS NOT NULL AND p.address_line IS NOT NULL
      AND postal(w.postal_code) = postal(p.postal_code)
), homes AS (
    SELECT *, true AS same_postal,
           split_part(patient_line, ',', 1) AS patient_street,
           address_building(user_line) AS user_building,
           address_building(patient_line) AS patient_building,
           address_street(user_line) AS user_street,
           address_street(patient_line) AS street
    FROM candidates
)
SELECT user_id, patient_id, local_day AS day,
       min(time) AS first_seen, max(time) AS last_seen,
       list(event_id ORDER BY time) AS event_ids, count(*) AS accesses,
       any_value(patient_name) AS patient_name, any_value(patient_street) AS patient_street,
       any_value(CASE WHEN user_building = patient_building THEN 'same building'
                      ELSE 'same street' END) AS "where"
FROM homes
WHERE same_postal AND NOT same_surname AND street <> '' AND street = user_street
GROUP BY ALL
-- a single look at a patient in care that day is the commonest benign unexplained access
HAVING NOT (bool_and(patient_active) AND count(*) = 1)
