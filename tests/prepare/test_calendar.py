"""Federal holidays, weekend shifts and business-day counting."""

from __future__ import annotations

import datetime as dt

import pytest

from carewarden.prepare.calendar import FEDERAL, BusinessDays, federal_holiday_dates, nth_weekday

D = dt.date


def test_federal_holidays_2025() -> None:
    """The eleven federal holidays of 2025 on their published dates."""
    assert sorted(FEDERAL.holidays_in(2025)) == [
        D(2025, 1, 1),
        D(2025, 1, 20),
        D(2025, 2, 17),
        D(2025, 5, 26),
        D(2025, 6, 19),
        D(2025, 7, 4),
        D(2025, 9, 1),
        D(2025, 10, 13),
        D(2025, 11, 11),
        D(2025, 11, 27),
        D(2025, 12, 25),
    ]


def test_juneteenth_only_from_2021() -> None:
    """Juneteenth became a federal holiday in 2021."""
    assert "juneteenth" not in federal_holiday_dates(2020)
    assert federal_holiday_dates(2021)["juneteenth"] == D(2021, 6, 19)


def test_weekend_holidays_are_shifted() -> None:
    """Saturday holidays move to Friday (New Year 2022 to Dec 31 2021), Sunday ones to Monday."""
    assert D(2021, 12, 31) in FEDERAL.holidays_in(2021)
    assert D(2022, 1, 1) not in FEDERAL.holidays_in(2022)
    assert D(2026, 7, 3) in FEDERAL.holidays_in(2026)  # July 4 2026 is a Saturday
    assert D(2022, 12, 26) in FEDERAL.holidays_in(2022)  # Christmas 2022 is a Sunday


def test_sunday_only_calendar_does_not_move_saturday_holidays() -> None:
    """A calendar without the Saturday shift keeps Friday July 3 2026 a business day."""
    calendar = BusinessDays(saturday_to_friday=False)
    assert calendar.is_business_day(D(2026, 7, 3))
    assert not FEDERAL.is_business_day(D(2026, 7, 3))


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2025, 3, 3), 15, D(2025, 3, 24)),  # three plain weeks
        (D(2025, 3, 8), 1, D(2025, 3, 10)),  # from a Saturday
        (D(2025, 11, 26), 2, D(2025, 12, 1)),  # over Thanksgiving and a weekend
        (D(2025, 12, 24), 1, D(2025, 12, 26)),  # over Christmas
        (D(2025, 3, 3), 0, D(2025, 3, 3)),
    ],
)
def test_adding_business_days(start: dt.date, days: int, due: dt.date) -> None:
    """Day 0 is the start; each following weekday that is not a holiday counts."""
    assert FEDERAL.add(start, days) == due


def test_nth_weekday() -> None:
    """Third Monday, fourth Thursday and last Monday of a month."""
    assert nth_weekday(2025, 1, 0, 3) == D(2025, 1, 20)
    assert nth_weekday(2025, 11, 3, 4) == D(2025, 11, 27)
    assert nth_weekday(2025, 5, 0, -1) == D(2025, 5, 26)
    assert nth_weekday(2024, 12, 0, -1) == D(2024, 12, 30)


def test_unknown_holiday_refused() -> None:
    """A misspelt holiday name is an error, not a silently ignored day."""
    with pytest.raises(ValueError, match="unknown holiday"):
        BusinessDays(holidays=("boxing_day",))  # type: ignore[arg-type]
