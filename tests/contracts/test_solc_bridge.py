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

import pytest

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "tools" / "solc-bridge.js"
PRAGMA = "// SPDX-License-Identifier: MIT\npragma solidity 0.8.37;\n"
SOURCES = {
    "src/0lib/Sum.sol": PRAGMA + "library Sum {\n"
    "  function add(uint a, uint b) public pure returns (uint) { return a + b; }\n"
    "  function twice(uint a) internal pure returns (uint) { return a * 2; } }\n",
    "src/Made.sol": PRAGMA + "contract Made { uint public immutable value; constructor(uint v) { value = v; } }\n",
    "src/Maker.sol": PRAGMA + 'import {Made} from "./Made.sol";\nimport {Sum} from "./0lib/Sum.sol";\n'
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


def standard_json(sources: dict[str, str], outputs: list[str], every_file: dict[str, Any] | None = None) -> str:
    """The input ape-solidity sends (every file named), with `every_file` as the ``"*"`` file
    selection beside them when given."""
    selection: dict[str, Any] = {name: {"*": outputs, "": ["ast"]} for name in sources}
    if every_file is not None:
        selection["*"] = every_file
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": {
                "optimizer": {"enabled": True, "runs": 200},
                "viaIR": True,
                "evmVersion": "cancun",
                "outputSelection": selection,
            },
        }
    )


def declaration_name(node: Any, node_id: int) -> str | None:
    """The name of the AST node numbered `node_id` under `node`, if any."""
    if isinstance(node, dict):
        if node.get("id") == node_id and "name" in node:
            return str(node["name"])
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    return next((found for child in children if (found := declaration_name(child, node_id)) is not None), None)


def bridge(source: str, workers: int, cwd: Path = ROOT) -> tuple[dict[str, Any], str]:
    """The bridge's parsed answer and what it said on stderr about its way (imports the input
    lacks are read from `cwd`)."""
    run = subprocess.run(
        ["node", str(BRIDGE), "--standard-json"],
        input=source,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SOLC_BRIDGE_JOBS": str(workers), "SOLC_BRIDGE_TRACE": "1"},
        cwd=cwd,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run.stderr


@pytest.mark.parametrize("library_on_disk", [False, True], ids=["every-source-sent", "library-by-callback"])
def test_split__the_units_answer_exactly_the_single_compile(library_on_disk, tmp_path):
    """With every source in the input, and with the library left to solc's import callback (as
    ape-solidity sends a project whose dependencies it compiled before): solc numbers AST nodes
    in the order it loads files, so the split must load them the same way."""
    sent = dict(SOURCES)
    if library_on_disk:
        library = tmp_path / "src" / "0lib" / "Sum.sol"
        library.parent.mkdir(parents=True)
        library.write_text(sent.pop("src/0lib/Sum.sol"))
    source = standard_json(sent, APE_OUTPUTS)
    whole, said_whole = bridge(source, 1, tmp_path)
    split, said_split = bridge(source, 2, tmp_path)
    assert "compiling the input whole" in said_whole
    # Roots: Factory (with Maker, Made, Sum), Alone.
    assert "2 units and the whole input's analysis on 2 workers" in said_split
    assert split == whole
    made = whole["contracts"]["src/Maker.sol"]["Maker"]["evm"]
    assert made["bytecode"]["object"] and made["bytecode"]["sourceMap"]
    # Source maps name files by the whole input's ids (Maker's own file among them).
    files = {int(entry.split(":")[2]) for entry in made["bytecode"]["sourceMap"].split(";") if entry.count(":") >= 2}
    assert whole["sources"]["src/Maker.sol"]["id"] in files
    if not library_on_disk:  # the library's own code (a file outside the selection has none)
        assert whole["contracts"]["src/0lib/Sum.sol"]["Sum"]["evm"]["bytecode"]["object"]
    assert {e["message"] for e in whole.get("errors", [])} == {e["message"] for e in split.get("errors", [])}


def test_split__an_error_in_a_unit__compiled_whole_with_the_same_errors():
    broken = {**SOURCES, "src/Alone.sol": SOURCES["src/Alone.sol"].replace("x = y;", "x = missing;")}
    source = standard_json(broken, APE_OUTPUTS)
    whole, _ = bridge(source, 1)
    split, said = bridge(source, 2)
    # The whole input's analysis (sent first) finds it: the workers stop, the input is compiled whole.
    assert "an error in the input: compiling the input whole" in said
    assert split == whole
    assert [e["severity"] for e in whole["errors"]].count("error") == 1


@pytest.mark.parametrize("output", ["storageLayout", "evm.deployedBytecode.immutableReferences"])
def test_outputs_keyed_by_ast_ids__compiled_whole(output):
    """A unit numbers the AST of fewer files: its ids (slots' astId, immutables' keys) would
    differ from the whole input's."""
    whole, said = bridge(standard_json(SOURCES, [*APE_OUTPUTS, output]), 2)
    assert "compiling the input whole" in said
    if output == "storageLayout":
        assert [s["label"] for s in whole["contracts"]["src/Alone.sol"]["Alone"]["storageLayout"]["storage"]] == ["x"]
    else:  # Made's immutable, keyed by its declaration's AST id in the whole input
        (key,) = whole["contracts"]["src/Made.sol"]["Made"]["evm"]["deployedBytecode"]["immutableReferences"]
        assert declaration_name(whole["sources"]["src/Made.sol"]["ast"], int(key)) == "value"


def test_every_file_selection_beside_named_files__compiled_whole_with_both():
    """solc merges the ``"*"`` file selection into each named file's; the split does not model it."""
    source = standard_json(SOURCES, APE_OUTPUTS, every_file={"*": ["storageLayout"]})
    whole, said = bridge(source, 2)
    assert "compiling the input whole" in said
    alone = whole["contracts"]["src/Alone.sol"]["Alone"]
    assert [s["label"] for s in alone["storageLayout"]["storage"]] == ["x"] and alone["evm"]["bytecode"]["object"]
