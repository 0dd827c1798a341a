"""The solc bridge's parallel compile (tools/solc-bridge.js): split into units, it answers
exactly what one compile answers, and it compiles whole whatever the split cannot reproduce.

A small project of its own (viaIR and the optimizer, as ape-config.yaml sets them): a library
with a public function (so it has bytecode of its own), a contract that creates another, a
contract importing that one, and an unrelated root. Each case runs the bridge twice, with one
worker and with two, and compares the outputs as parsed JSON, key order of the errors included.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "tools" / "solc-bridge.js"
PRAGMA = "// SPDX-License-Identifier: MIT\npragma solidity 0.8.37;\n"
SOURCES = {
    "src/lib/Sum.sol": PRAGMA + "library Sum {\n"
    "  function add(uint a, uint b) public pure returns (uint) { return a + b; }\n"
    "  function twice(uint a) internal pure returns (uint) { return a * 2; } }\n",
    "src/Made.sol": PRAGMA + "contract Made { uint public value; constructor(uint v) { value = v; } }\n",
    "src/Maker.sol": PRAGMA + 'import {Made} from "./Made.sol";\nimport {Sum} from "./lib/Sum.sol";\n'
    "contract Maker { event Built(address made);\n"
    "  function build(uint v) external returns (Made made) {\n"
    "    made = new Made(Sum.twice(v)); emit Built(address(made)); } }\n",
    "src/Factory.sol": PRAGMA + 'import {Maker} from "./Maker.sol";\n'
    "contract Factory { uint private unused;\n  function maker() external returns (Maker) { return new Maker(); } }\n",
    "src/Alone.sol": PRAGMA + "contract Alone { uint private x;\n  function set(uint y) external { x = y; } }\n",
}
#: What ape-solidity asks for (ape's own outputs, plus the AST of every file).
APE_OUTPUTS = [
    "abi",
    "bin-runtime",
    "devdoc",
    "userdoc",
    "evm.bytecode.object",
    "evm.bytecode.sourceMap",
    "evm.deployedBytecode.object",
]


def standard_json(sources: dict[str, str], outputs: list[str]) -> str:
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": {
                "optimizer": {"enabled": True, "runs": 200},
                "viaIR": True,
                "evmVersion": "cancun",
                "outputSelection": {name: {"*": outputs, "": ["ast"]} for name in sources},
            },
        }
    )


def bridge(source: str, workers: int) -> tuple[dict[str, Any], str]:
    """The bridge's parsed answer and what it said on stderr about its way."""
    run = subprocess.run(
        ["node", str(BRIDGE), "--standard-json"],
        input=source,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SOLC_BRIDGE_JOBS": str(workers), "SOLC_BRIDGE_TRACE": "1"},
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run.stderr


def test_split__the_units_answer_exactly_the_single_compile():
    source = standard_json(SOURCES, APE_OUTPUTS)
    whole, said_whole = bridge(source, 1)
    split, said_split = bridge(source, 2)
    assert "compiling the input whole" in said_whole
    # Roots: Factory (with Maker, Made, Sum), Alone.
    assert "2 units and the whole input's analysis on 2 workers" in said_split
    assert split == whole
    made = whole["contracts"]["src/Maker.sol"]["Maker"]["evm"]
    assert made["bytecode"]["object"] and made["bytecode"]["sourceMap"]
    # Source maps name files by the whole input's ids (Maker's own file among them).
    files = {int(entry.split(":")[2]) for entry in made["bytecode"]["sourceMap"].split(";") if entry.count(":") >= 2}
    assert whole["sources"]["src/Maker.sol"]["id"] in files
    assert whole["contracts"]["src/lib/Sum.sol"]["Sum"]["evm"]["bytecode"]["object"]  # the library's own code
    assert {e["message"] for e in whole.get("errors", [])} == {e["message"] for e in split.get("errors", [])}


def test_split__an_error_in_a_unit__compiled_whole_with_the_same_errors():
    broken = {**SOURCES, "src/Alone.sol": SOURCES["src/Alone.sol"].replace("x = y;", "x = missing;")}
    source = standard_json(broken, APE_OUTPUTS)
    whole, _ = bridge(source, 1)
    split, said = bridge(source, 2)
    assert "compiling the input whole" in said
    assert split == whole
    assert [e["severity"] for e in whole["errors"]].count("error") == 1


def test_outputs_with_ast_ids__storage_layout__compiled_whole():
    whole, said = bridge(standard_json(SOURCES, [*APE_OUTPUTS, "storageLayout"]), 2)
    assert "compiling the input whole" in said
    slots = whole["contracts"]["src/Alone.sol"]["Alone"]["storageLayout"]["storage"]
    assert [s["label"] for s in slots] == ["x"]
