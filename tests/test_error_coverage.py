"""Every custom error declared outside contracts/test/ is asserted by name in some test.

A test "asserts" an error when it passes `<contract>.<ErrorName>` to `ape.reverts(...)`, or
checks a skipped item's revert reason against the error's selector by name.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ERROR_DECL = re.compile(r"^\s*error\s+(\w+)\s*\(", re.MULTILINE)


def declared_errors() -> dict[str, Path]:
    errors = {}
    for path in (ROOT / "contracts").rglob("*.sol"):
        if "test" in path.relative_to(ROOT / "contracts").parts:
            continue
        for name in ERROR_DECL.findall(path.read_text()):
            errors.setdefault(name, path.relative_to(ROOT))
    return errors


def asserted_errors() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name)
    asserted = set(re.findall(r"reverts\(\s*\w+\.(\w+)", text))
    asserted |= set(re.findall(r"selector\(\s*\w+\.(\w+)", text))
    return asserted


def test_declared_errors__found():
    # Guards the scan itself: if the regex broke, the coverage test below would pass vacuously.
    assert {
        "UnexpectedJobStatus",
        "InsufficientSignatures",
        "ReportWindowClosed",
        "TransferAmountMismatch",
        "ShortfallOutstanding",
    } <= set(declared_errors())


def test_every_custom_error__asserted_in_a_test():
    missing = {name: str(path) for name, path in declared_errors().items() if name not in asserted_errors()}
    assert not missing, f"custom errors never asserted by name in tests: {missing}"
