"""Every custom error declared outside contracts/test/ is declared once and asserted by name in
some test.

A test "asserts" an error when it passes `<contract>.<ErrorName>` to `ape.reverts(...)`, or
checks a skipped item's revert reason against the error's selector by name. An error that more
than one contract reverts with is declared once, in contracts/libraries/Errors.sol.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ERROR_DECL = re.compile(r"^\s*error\s+(\w+)\s*\(", re.MULTILINE)


def declarations() -> list[tuple[str, Path]]:
    """(error name, file) for every declaration outside contracts/test/."""
    found = []
    for path in sorted((ROOT / "contracts").rglob("*.sol")):
        if "test" in path.relative_to(ROOT / "contracts").parts:
            continue
        found += [(name, path.relative_to(ROOT)) for name in ERROR_DECL.findall(path.read_text())]
    return found


def declared_errors() -> dict[str, Path]:
    errors: dict[str, Path] = {}
    for name, path in declarations():
        errors.setdefault(name, path)
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


def test_every_custom_error__declared_once():
    seen: dict[str, list[str]] = {}
    for name, path in declarations():
        seen.setdefault(name, []).append(str(path))
    twice = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not twice, f"declare a shared error once, in contracts/libraries/Errors.sol: {twice}"


def test_shared_errors__declared_in_the_errors_library():
    shared = {"ZeroAddress", "ZeroAmount", "EmptyBatch", "BpsOutOfRange"}
    assert {name: declared_errors()[name] for name in shared} == {
        name: Path("contracts/libraries/Errors.sol") for name in shared
    }
