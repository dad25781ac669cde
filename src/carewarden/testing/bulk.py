"""Large stores made fast, in SQL (for backup tests and benchmarks): an access log of any
size without synthesizing a hospital first."""

from __future__ import annotations

from carewarden.store import Store


def fill_access_log(store: Store, rows: int, *, users: int = 5_000, patients: int = 200_000) -> int:
    """Append ``rows`` EHR accesses (14 days from 2024-03-01, ``users`` staff, ``patients``
    patients, a few NULLs and break-the-glass reasons) to ``store``; return how many."""
    span = 14 * 86_400 * 1_000_000  # microseconds
    with store.transaction():
        store.query(
            f"""
            INSERT INTO ehr_access
            SELECT 'bulk-' || i,
                   TIMESTAMP '2024-03-01'
                       + to_microseconds(CAST(i::HUGEINT * {span} // {rows} AS BIGINT)),
                   'u' || (i % {users}),
                   'p' || (hash(i) % {patients}),
                   ['read', 'read', 'read', 'search', 'update'][1 + i % 5],
                   CASE WHEN i % 97 = 0 THEN '4' ELSE '0' END,
                   CASE WHEN i % 11 = 0 THEN NULL ELSE 'ws-' || (i % 900) END,
                   CASE WHEN i % 1000 = 0 THEN 'ETREAT' ELSE 'TREAT' END,
                   CASE WHEN i % 1000 = 0 THEN 'emergency, patient ' || (hash(i) % {patients})
                   END,
                   'bulk:' || (i // 1000000)
            FROM range({rows}) AS r(i)
            """
        )
    return rows
