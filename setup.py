"""The one compiled part: helpers of the network connectors' column-wise path (a batch
BLAKE3 for the record ids, scans of JSON lines for non-standard numbers, for the fields a
reader asks for and for EVE's columns, the line feeds of a block). It is optional: where no C
compiler is found, the package installs without it, and the same work is done in Python and
numpy (same results, slower)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "carewarden.telemetry._native",
            ["src/carewarden/telemetry/_native.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
