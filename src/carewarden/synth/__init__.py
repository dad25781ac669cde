"""The seeded synthetic hospital: workforce, patients, encounters and EHR access logs with
injected, labelled privacy violations, written as FHIR R4 NDJSON (or CSV access logs), and
the backup inventory of its critical systems (``dr_inventory.yaml``).

>>> from carewarden.synth import SynthConfig, generate  # doctest: +SKIP
>>> generate(Path("out"), SynthConfig(beds=200, days=7, seed=1))  # doctest: +SKIP
"""

from carewarden.synth.config import SynthConfig, SynthResult
from carewarden.synth.generator import generate
from carewarden.synth.violations import KINDS

__all__ = ["KINDS", "SynthConfig", "SynthResult", "generate"]
