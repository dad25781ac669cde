"""Site-local wall clock <-> UTC epoch seconds, with fast string formatting.

Events are simulated in site-local wall-clock time (shifts, office hours) and stored in UTC.
Daylight-saving transitions are handled with :mod:`zoneinfo`; a wall time inside the
spring-forward gap maps to the instant one hour later (PEP 495, fold=0).
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY = 86400
_EPOCH = date(1970, 1, 1)


@functools.cache
def _hms_table() -> tuple[str, ...]:
    """``HH:MM:SS`` of every second of a day, made on first use (0.06 s, which every
    command of the CLI paid when it was made at import)."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY))


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - _EPOCH).days


class SiteClock:
    """Conversions for the days ``start - pad`` .. ``start + days + pad``."""

    def __init__(self, tz: str, start: date, days: int, pad: int = 45) -> None:
        self.tz = ZoneInfo(tz)
        self.start = start
        self._hms = _hms_table()
        first = start - timedelta(days=pad)
        last = start + timedelta(days=days + pad)
        self._first_day = day_number(first)
        # Per local day: offset (seconds east of UTC) at each local wall-clock hour.
        self._hour_offsets: list[tuple[int, ...]] = []
        d = first
        while d <= last:
            offs: list[int] = []
            for h in range(24):
                wall = datetime(d.year, d.month, d.day, h, 30, tzinfo=self.tz)
                delta = wall.utcoffset()
                offs.append(int(delta.total_seconds()) if delta is not None else 0)
            self._hour_offsets.append(tuple(offs))
            d += timedelta(days=1)
        # UTC instants at which the offset changes, for utc -> local.
        lo = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()) - DAY
        hi = int(datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp()) + 2 * DAY
        self._trans_at: list[int] = [lo]
        self._trans_off: list[int] = [self._offset_utc(lo)]
        t = lo
        while t < hi:
            t += 3600
            off = self._offset_utc(t)
            if off != self._trans_off[-1]:
                # refine to the exact second (transitions are on whole minutes in practice)
                a, b = t - 3600, t
                while b - a > 1:
                    m = (a + b) // 2
                    if self._offset_utc(m) == off:
                        b = m
                    else:
                        a = m
                self._trans_at.append(b)
                self._trans_off.append(off)
        self._prefix_utc: dict[int, str] = {}
        self._prefix_local: dict[int, str] = {}

    def _offset_utc(self, t: int) -> int:
        off = datetime.fromtimestamp(t, UTC).astimezone(self.tz).utcoffset()
        return int(off.total_seconds()) if off is not None else 0

    def local_to_utc(self, dn: int, sec: int) -> int:
        """UTC epoch for local day number ``dn`` at ``sec`` seconds after local midnight."""
        offs = self._hour_offsets[dn - self._first_day]
        return dn * DAY + sec - offs[min(23, max(0, sec // 3600))]

    def day_offsets(self, dn: int) -> tuple[int, ...]:
        """Offsets at each local hour of local day number ``dn`` (for hot loops)."""
        return self._hour_offsets[dn - self._first_day]

    def utc_offset_at(self, t: int) -> int:
        """Seconds east of UTC in effect at UTC epoch ``t``."""
        return self._trans_off[bisect_right(self._trans_at, t) - 1]

    def fmt_utc(self, t: int) -> str:
        """``YYYY-MM-DDTHH:MM:SSZ``."""
        dn, s = divmod(t, DAY)
        p = self._prefix_utc.get(dn)
        if p is None:
            p = (_EPOCH + timedelta(days=dn)).isoformat() + "T"
            self._prefix_utc[dn] = p
        return p + self._hms[s] + "Z"

    def fmt_local(self, t: int) -> str:
        """``YYYY-MM-DD HH:MM:SS`` in site-local time."""
        lt = t + self.utc_offset_at(t)
        dn, s = divmod(lt, DAY)
        p = self._prefix_local.get(dn)
        if p is None:
            p = (_EPOCH + timedelta(days=dn)).isoformat() + " "
            self._prefix_local[dn] = p
        return p + self._hms[s]

    def local_date(self, t: int) -> date:
        """Site-local calendar date of UTC epoch ``t``."""
        return _EPOCH + timedelta(days=(t + self.utc_offset_at(t)) // DAY)
