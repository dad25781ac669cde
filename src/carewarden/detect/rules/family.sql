-- Unexplained accesses where the patient is the user's relative or household member.
WITH pairs AS (
    SELECT x.event_id, x.user_id, x.patient_id, x.time, x.local_day,
           w.given_name || ' ' || w.family_name AS user_full_name,
           p.given_name || ' ' || p.family_name AS patient_name,
           lower(w.family_name) = lower(p.family_name) AS same_surname,
           first_given(w.given_name) = first_given(p.given_name)
               AND w.birth_date IS NOT DISTINCT FROM p.birth_date AS same_person,
           address_home(w.address_line) <> ''
               AND address_home(w.address_line) = address_home(p.address_line)
               AND postal(w.postal_code) = postal(p.postal_code) AS same_home,
           length(regexp_replace(w.phone, '[^0-9]', '', 'g')) >= 7
               AND right(regexp_replace(w.phone, '[^0-9]', '', 'g'), 10)
                   = right(regexp_replace(p.phone, '[^0-9]', '', 'g'), 10) AS same_phone,
           list_bool_or(list_transform(
               from_json(coalesce(p.contacts, '[]'),
                         '[{"family_name":"VARCHAR","given_name":"VARCHAR","phone":"VARCHAR"}]'),
               lambda c: (lower(c.family_name) = lower(w.family_name)
                          AND first_given(c.given_name) = first_given(w.given_name))
                         OR (length(regexp_replace(w.phone, '[^0-9]', '', 'g')) >= 7
                             AND right(regexp_replace(c.phone, '[^0-9]', '', 'g'), 10)
                                 = right(regexp_replace(w.phone, '[^0-9]', '', 'g'), 10))
           )) AS is_contact
    FROM access_explanation x
    JOIN workforce w ON w.user_id = x.user_id
    JOIN patient p ON p.patient_id = x.patient_id
    WHERE x.reason IS NULL
)
SELECT user_id, patient_id, local_day AS day,
       min(time) AS first_seen, max(time) AS last_seen,
       list(event_id ORDER BY time) AS event_ids, count(*) AS accesses,
       any_value(patient_name) AS patient_name,
       any_value(CASE WHEN is_contact THEN 'who lists them as a contact'
                      WHEN same_home THEN 'same surname and home address'
                      ELSE 'same surname and phone number' END) AS link
FROM pairs
WHERE NOT same_person
  AND (coalesce(is_contact, false) OR (same_surname AND (same_home OR same_phone)))
GROUP BY ALL
