WITH employees AS (
    SELECT w.user_id AS employee_id, lower(w.family_name) AS family,
           first_given(w.given_name) AS given,
           w.birth_date,
           any_value(coalesce(r.role_display, r.role_code, 'staff')
                     || coalesce(', ' || d.name, '')) AS role,
           list(DISTINCT r.department_id) AS departments
    FROM workforce w
    LEFT JOIN workforce_role r ON r.user_id = w.user_id
    LEFT JOIN department d ON d.department_id = r.department_id
    WHERE w.birth_date IS NOT NULL
    GROUP BY ALL
), user_departments AS (
    SELECT user_id, list(DISTINCT department_id) AS departments
    FROM workforce_role GROUP BY user_id
)
SELECT x.user_id, x.patient_id, x.local_day AS day,
       min(x.time) AS first_seen, max(x.time) AS last_seen,
       list(x.event_id ORDER BY x.time) AS event_ids, count(*) AS accesses,
       any_value(p.given_name || ' ' || p.family_name) AS patient_name,
       any_value(e.role) AS coworker_role,
       -- a single look at a coworker then in care may be a transfer: shown, ranked lower
       CASE WHEN bool_and(x.patient_active) AND count(*) = 1 THEN 45
            WHEN bool_or(len(list_intersect(e.departments, coalesce(u.departments, []))) > 0)
            THEN 80 ELSE 70 END AS score
FROM access_explanation x
JOIN patient p ON p.patient_id = x.patient_id
JOIN employees e ON e.family = lower(p.family_name) AND e.given = first_given(p.given_name)
                AND e.birth_date = p.birth_date
JOIN workforce w ON w.user_id = x.user_id
LEFT JOIN user_departments u ON u.user_id = x.user_id
WHERE x.reason IS NULL
  AND e.employee_id <> x.user_id
  AND lower(w.family_name) <> lower(p.family_name)
GROUP BY x.user_id, x.patient_id, x.local_day
