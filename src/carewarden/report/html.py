"""The self-contained HTML report: one file with inline CSS and SVG charts, no JavaScript,
no external links, so it opens on an air-gapped workstation and can be mailed as is."""

from __future__ import annotations

import datetime as dt

from jinja2 import Environment, PackageLoader, select_autoescape

from carewarden import __version__
from carewarden.prepare.dr import span
from carewarden.services.overview import Overview

SEVERITY_COLOURS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#3b82f6",
    "info": "#6b7280",
}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("carewarden.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.filters["span"] = span
    return env


def render_report(data: Overview, *, title: str = "Carewarden report") -> str:
    template = _environment().get_template("report.html.j2")
    max_rule = max((n for *_, n in data.alerts_by_rule), default=0)
    return template.render(
        title=title,
        data=data,
        version=__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        colours=SEVERITY_COLOURS,
        max_rule=max_rule or 1,
        quarantined=sum(s.quarantined for s in data.sources),
        records=sum(s.records for s in data.sources),
    )
