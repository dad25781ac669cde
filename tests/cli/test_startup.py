"""The command starts without importing what only some commands use."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_does_not_import_scikit_learn_or_hash_a_password_at_start() -> None:
    """scikit-learn took 0.8 s of every command's start (only `detect` fits a model), and
    the console's dummy password hash 0.13 s; the synthetic hospital's time table 0.06 s."""
    probe = (
        "import sys, carewarden.cli.main\n"
        "from carewarden.services import accounts\n"
        "from carewarden.synth import clock\n"
        "print('sklearn' in sys.modules, accounts._dummy_hash.cache_info().currsize,"
        " clock._hms_table.cache_info().currsize)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "0", "0"]
