"""Connectors: one module per source format, all registered here and nowhere else.

Third-party connectors register under the ``carewarden.connectors`` entry-point group.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from carewarden.connectors.access_csv import AccessCsvConnector
from carewarden.connectors.base import Connector
from carewarden.connectors.fhir import FhirConnector

BUILTIN: dict[str, type[Connector]] = {
    FhirConnector.name: FhirConnector,
    AccessCsvConnector.name: AccessCsvConnector,
}


def available() -> dict[str, type[Connector]]:
    """Built-in connectors plus those installed as plugins (built-ins win on a name clash)."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group="carewarden.connectors"):
        found[ep.name] = ep.load()
    found.update(BUILTIN)
    return found


__all__ = ["BUILTIN", "Connector", "available"]
