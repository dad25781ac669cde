"""The self-contained HTML report."""

from __future__ import annotations

import re
from pathlib import Path

from carewarden.connectors.fhir import FhirConnector
from carewarden.report.html import render_report
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.services.overview import overview
from carewarden.store import Store


def _external_references(html: str) -> list[str]:
    """src/href attributes pointing outside the file (the SVG namespace is not a fetch)."""
    return [
        m for m in re.findall(r'(?:src|href)\s*=\s*"([^"]+)"', html) if not m.startswith("#")
    ]


def test_empty_store_renders_clear_empty_states(store: Store) -> None:
    """With nothing ingested, the report says so in each section instead of failing."""
    html = render_report(overview(store))
    assert "Nothing ingested yet." in html
    assert "run <code>carewarden detect</code>" in html
    assert "No alerts" in html
    assert "<script" not in html and not _external_references(html)


def test_report_shows_alerts_users_and_ingestion(store: Store, data: Path) -> None:
    """After ingest and detection, the report lists rules, risky users, explanations and
    quarantine reasons, HTML-escaped, with no scripts and no external resources."""
    ingest(store, FhirConnector(), [data / "fhir" / "export", data / "fhir" / "bundle.json"])
    detect(store)
    figures = overview(store)
    html = render_report(figures, title="Test <report>")
    assert "Test &lt;report&gt;" in html
    for _, title, _, _ in figures.alerts_by_rule:
        assert title in html  # in full in the bar's tooltip, shortened beside it
    assert figures.top_users and figures.top_users[0].name in html
    assert "opened their own chart" in html
    assert "Bundle.entry[N]" in html  # quarantine reasons, numbers folded
    assert "<svg" in html
    assert "chart accesses are explained by a documented relationship" in html
    assert figures.explained_share is not None and f"{100 * figures.explained_share:.1f}%" in html
    assert "<script" not in html and not _external_references(html)
