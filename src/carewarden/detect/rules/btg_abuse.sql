WITH btg AS (
    SELECT x.*, lower(trim(coalesce(x.purpose_text, ''))) AS said
    FROM access_explanation x
    WHERE x.purpose = 'ETREAT'
), reuse AS (
    SELECT user_id, said, count(DISTINCT patient_id) AS patients
    FROM btg WHERE said <> '' GROUP BY ALL
), judged AS (
    SELECT b.*,
           CASE
               WHEN b.said = '' THEN 'no reason given'
               WHEN list_contains($btg_boilerplate, b.said)
                   THEN 'the reason "' || b.purpose_text || '" is a stock phrase'
               WHEN length(b.said) < $btg_min_reason_chars
                   THEN 'the reason "' || b.purpose_text || '" says nothing'
               WHEN r.patients >= $btg_reused_reason_patients
                   THEN 'the same reason was given for ' || r.patients || ' patients'
               -- only where nothing else explains it: a coder after discharge or a treating
               -- radiologist who broke the glass on a restricted chart is documented
               WHEN b.reason IS NULL AND NOT EXISTS (
                   -- an emergency or inpatient stay around the access, or any encounter under
                   -- way at that moment: what a real emergency looks like in the record
                   SELECT 1 FROM encounter e
                   WHERE e.patient_id = b.patient_id
                     AND ((e.class_code IN ('EMER', 'IMP', 'ACUTE', 'OBSENC')
                           AND coalesce(e.period_end, TIMESTAMP '9999-12-31')
                               >= b.time - INTERVAL 12 HOUR
                           AND e.period_start
                               <= b.time + to_days(CAST($btg_encounter_days_after AS INTEGER)))
                          OR b.time BETWEEN e.period_start - INTERVAL 1 HOUR
                                        AND coalesce(e.period_end, TIMESTAMP '9999-12-31')
                                            + INTERVAL 1 HOUR))
                   THEN 'the patient had no emergency or inpatient stay around that time'
           END AS problem
    FROM btg b LEFT JOIN reuse r ON r.user_id = b.user_id AND r.said = b.said
)
SELECT j.user_id, j.patient_id, j.local_day AS day,
       min(j.time) AS first_seen, max(j.time) AS last_seen,
       list(j.event_id ORDER BY j.time) AS event_ids, count(*) AS accesses,
       any_value(p.given_name || ' ' || p.family_name) AS patient_name,
       any_value(j.problem) AS problem
FROM judged j LEFT JOIN patient p ON p.patient_id = j.patient_id
WHERE j.problem IS NOT NULL
GROUP BY j.user_id, j.patient_id, j.local_day
