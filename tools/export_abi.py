#!/usr/bin/env python3
"""Export ABIs and bytecode from the Ape build (.build/__local__.json) into the SDK package.

`make abi` runs this after `ape compile`; tests/sdk/test_abi_export.py fails when the
exported copy in computerails/abi/ no longer matches a fresh build. Never edit those files
by hand. (computerails/abi/ERC20Permit.json is not one of them: the generic token ABI is written
by hand from the standards; tests/sdk/test_erc20_abi.py checks it.)

Usage: python tools/export_abi.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build" / "__local__.json"
OUT = ROOT / "computerails" / "abi"
#: Contracts the SDK talks to. The mocks are exported for devnets and the demo.
CONTRACTS = (
    "ProviderStaking",
    "JobEscrow",
    "AttestationHub",
    "UptimeSlasher",
    "MeteredEscrow",
    "RewardsDistributor",
    "ProtocolTimelock",
    "MockUSD",
    "MockStakeToken",
)


def exported() -> dict[str, str]:
    """File name -> JSON text, as it should be on disk."""
    manifest = json.loads(BUILD.read_text())
    files = {}
    for name in CONTRACTS:
        contract = manifest["contractTypes"][name]
        payload = {
            "contractName": name,
            "abi": contract["abi"],
            "bytecode": contract["deploymentBytecode"]["bytecode"],
        }
        files[f"{name}.json"] = json.dumps(payload, indent=1, sort_keys=True) + "\n"
    return files


def main(argv: list[str]) -> int:
    if not BUILD.exists():
        print(f"{BUILD} not found: run `ape compile` first", file=sys.stderr)
        return 2
    files = exported()
    if "--check" in argv:
        stale = [n for n, text in files.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        if stale:
            print(f"exported ABIs are stale: {', '.join(stale)} (run `make abi`)", file=sys.stderr)
            return 1
        print(f"exported ABIs match the build ({len(files)} contracts)")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"exported {len(files)} contracts to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
