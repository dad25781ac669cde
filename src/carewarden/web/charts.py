"""Geometry for the console's charts, drawn as inline SVG by the templates (no script, no
inline style: colours come from the stylesheet's ``sev-*`` classes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carewarden.services.alerts import SEVERITIES
from carewarden.services.posture import Posture


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    severity: str
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, float, str]]  # x, y, text

    @property
    def empty(self) -> bool:
        return not self.bars


def layer_bars(posture: Posture, width: int = 480, row: int = 26) -> Chart:
    """One stacked horizontal bar per layer: its open alerts by severity."""
    label_w = 190
    biggest = max((layer.open_alerts for layer in posture.layers), default=0) or 1
    bars: list[Bar] = []
    labels: list[tuple[float, float, str]] = []
    for i, layer in enumerate(posture.layers):
        y = i * row
        labels.append((0, y + row * 0.65, layer.name))
        x = float(label_w)
        for severity in SEVERITIES:
            count = layer.open_by_severity.get(severity, 0)
            if count:
                w = (width - label_w - 50) * count / biggest
                bars.append(
                    Bar(
                        x,
                        y + 4,
                        max(w, 1.5),
                        row - 8,
                        severity,
                        f"{layer.name}: {count:,} open {severity}",
                    )
                )
                x += w
        labels.append(
            (
                x + 6,
                y + row * 0.65,
                f"{layer.open_alerts:,}"
                if layer.monitored or layer.open_alerts
                else "not monitored",
            )
        )
    return Chart(width, row * len(posture.layers), bars, labels)


def trend(points: list[tuple[dt.date, str, int]], width: int = 640, height: int = 160) -> Chart:
    """Alerts first seen per day, stacked by severity."""
    if not points:
        return Chart(width, height, [], [])
    days = sorted({d for d, _, _ in points})
    first, last = days[0], days[-1]
    span = (last - first).days + 1
    per_day: dict[dt.date, dict[str, int]] = {}
    for day, severity, count in points:
        per_day.setdefault(day, {})[severity] = count
    top = max(sum(v.values()) for v in per_day.values()) or 1
    plot_h = height - 24
    slot = width / span
    bars: list[Bar] = []
    labels: list[tuple[float, float, str]] = [(0, 10, f"{top:,}")]
    for day, counts in per_day.items():
        x = (day - first).days * slot + slot * 0.15
        y = float(plot_h)
        for severity in reversed(SEVERITIES):
            count = counts.get(severity, 0)
            if count:
                h = plot_h * count / top
                y -= h
                bars.append(
                    Bar(x, y, slot * 0.7, h, severity, f"{day:%Y-%m-%d}: {count:,} {severity}")
                )
    step = max(1, span // 6)
    for i in range(0, span, step):
        day = first + dt.timedelta(days=i)
        labels.append((i * slot + 2, height - 6, f"{day:%m-%d}"))
    return Chart(width, height, bars, labels)
