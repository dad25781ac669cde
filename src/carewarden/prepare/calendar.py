"""Calendar and business-day arithmetic for notification deadlines.

US federal holidays are computed (5 U.S.C. 6103), not looked up, so every year works. A
holiday on a Saturday is observed the Friday before and one on a Sunday the Monday after,
as federal offices do; a state rule may ask for Sunday-to-Monday only (see
``BusinessDays.saturday_to_friday``), which never makes a deadline later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

HolidayName = Literal[
    "new_years_day",
    "martin_luther_king_jr_day",
    "washingtons_birthday",
    "memorial_day",
    "juneteenth",
    "independence_day",
    "labor_day",
    "columbus_day",
    "veterans_day",
    "thanksgiving_day",
    "christmas_day",
]
FEDERAL_HOLIDAYS: tuple[HolidayName, ...] = get_args(HolidayName)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday 0) of a month; ``n = -1`` is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def federal_holiday_dates(year: int) -> dict[HolidayName, dt.date]:
    """Each federal holiday's calendar date in ``year`` (before any weekend shift)."""
    dates: dict[HolidayName, dt.date] = {
        "new_years_day": dt.date(year, 1, 1),
        "martin_luther_king_jr_day": nth_weekday(year, 1, 0, 3),
        "washingtons_birthday": nth_weekday(year, 2, 0, 3),
        "memorial_day": nth_weekday(year, 5, 0, -1),
        "juneteenth": dt.date(year, 6, 19),
        "independence_day": dt.date(year, 7, 4),
        "labor_day": nth_weekday(year, 9, 0, 1),
        "columbus_day": nth_weekday(year, 10, 0, 2),
        "veterans_day": dt.date(year, 11, 11),
        "thanksgiving_day": nth_weekday(year, 11, 3, 4),
        "christmas_day": dt.date(year, 12, 25),
    }
    if year < 2021:  # Juneteenth National Independence Day Act, June 2021
        del dates["juneteenth"]
    return dates


def observed(day: dt.date, *, saturday_to_friday: bool = True) -> dt.date | None:
    """The weekday a holiday falling on ``day`` is observed, or None when it is not."""
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    if day.weekday() == 5:
        return day - dt.timedelta(days=1) if saturday_to_friday else None
    return day


@dataclass(frozen=True)
class BusinessDays:
    """A business-day calendar: Monday to Friday less the chosen holidays as observed."""

    holidays: tuple[HolidayName, ...] = FEDERAL_HOLIDAYS
    saturday_to_friday: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.holidays) - set(FEDERAL_HOLIDAYS)
        if unknown:
            raise ValueError(f"unknown holiday(s) {sorted(unknown)}; known: {FEDERAL_HOLIDAYS}")

    def holidays_in(self, year: int) -> frozenset[dt.date]:
        return _observed_holidays(year, self.holidays, self.saturday_to_friday)

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and day not in self.holidays_in(day.year)

    def add(self, start: dt.date, days: int) -> dt.date:
        """The ``days``-th business day after ``start`` (``start`` itself is day 0)."""
        day = start
        remaining = days
        while remaining > 0:
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        return day


@lru_cache(maxsize=256)
def _observed_holidays(
    year: int, names: Iterable[HolidayName], saturday_to_friday: bool
) -> frozenset[dt.date]:
    # New Year's Day of year + 1 on a Saturday is observed on December 31 of ``year``.
    found = set()
    for y in (year, year + 1):
        for name, day in federal_holiday_dates(y).items():
            if name not in names:
                continue
            shifted = observed(day, saturday_to_friday=saturday_to_friday)
            if shifted is not None and shifted.year == year:
                found.add(shifted)
    return frozenset(found)


FEDERAL = BusinessDays()


def add_days(start: dt.date, days: int) -> dt.date:
    """Calendar-day arithmetic: ``start`` + ``days`` (no weekend or holiday roll-over)."""
    return start + dt.timedelta(days=days)
