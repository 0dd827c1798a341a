"""The ABIs shipped in computerails/abi are exactly what tools/export_abi.py makes from the build."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def export_abi():
    spec = importlib.util.spec_from_file_location("export_abi", ROOT / "tools" / "export_abi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_abi_check__fresh_build__exit_zero():
    result = subprocess.run(
        [sys.executable, "tools/export_abi.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exported ABIs match the build (9 contracts)"


def test_exported__each_contract__equals_the_file_on_disk(export_abi):
    files = export_abi.exported()
    assert sorted(files) == sorted(f"{name}.json" for name in export_abi.CONTRACTS)
    for name, text in files.items():
        assert (ROOT / "computerails" / "abi" / name).read_text() == text, name


def test_export_abi_check__tampered_copy__stale_file_named(export_abi, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "abi"
    shutil.copytree(ROOT / "computerails" / "abi", copy)
    target = copy / "JobEscrow.json"
    target.write_text(target.read_text().replace('"NotJobClient"', '"NotTheClient"'))
    monkeypatch.setattr(export_abi, "OUT", copy)

    assert export_abi.main(["--check"]) == 1
    assert capsys.readouterr().err.strip() == "exported ABIs are stale: JobEscrow.json (run `make abi`)"
    (copy / "MockUSD.json").unlink()
    assert export_abi.main(["--check"]) == 1
    assert "JobEscrow.json, MockUSD.json" in capsys.readouterr().err


#: ABI files in computerails/abi that no build exports: written by hand from the standards, and
#: checked by tests/sdk/test_erc20_abi.py instead.
HAND_WRITTEN = {"ERC20Permit.json"}


def test_abi_folder__every_file__exported_or_hand_written(export_abi):
    on_disk = {p.name for p in (ROOT / "computerails" / "abi").glob("*.json")}
    assert on_disk == set(export_abi.exported()) | HAND_WRITTEN
    assert not HAND_WRITTEN & set(export_abi.exported())  # `make abi` never overwrites them
