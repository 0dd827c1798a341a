"""The SDK is usable without the build tooling: importing it never imports Ape."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_computerails__fresh_interpreter__no_ape_module_loaded():
    code = (
        "import computerails, computerails.cli, sys; "
        "loaded = sorted(m for m in sys.modules if m.startswith('ape')); "
        "assert not loaded, loaded; print(computerails.__version__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.1.0"
