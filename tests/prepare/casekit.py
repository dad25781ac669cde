"""Constants and types the case tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: The tests' clock: cases are opened (discovered) at NOW unless a test says otherwise.
NOW = dt.datetime(2026, 3, 10, 12, 0)
#: When the alerts' events happened.
T0 = dt.datetime(2026, 3, 1, 9, 0)

AddAlert = Callable[..., str]
