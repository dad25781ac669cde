"""Fixtures for the access-decision tests: a small synthetic hospital, ingested once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from carewarden.connectors.fhir import FhirConnector
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.store import Store
from carewarden.synth import SynthConfig, generate

SYNTHETIC = SynthConfig(beds=40, days=3, seed=5)


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A synthetic hospital (40 beds, 3 days), ingested and detected; the store folder."""
    root = tmp_path_factory.mktemp("synthetic")
    result = generate(root / "hospital", SYNTHETIC)
    with Store.open(root / "store") as store:
        ingest(store, FhirConnector(timezone=SYNTHETIC.site_tz), [result.out_dir])
        detect(store, site_tz=SYNTHETIC.site_tz)
    yield root / "store"
