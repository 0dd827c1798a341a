"""Storage layout: every packed slot that the contracts' comments describe, pinned.

The contracts pack storage on purpose (gas is a product feature): JobEscrow's job counter and
new-job parameters share the slot of Pausable's `_paused` flag, a job is three slots, a provider
four, the uptime slasher reads its schedule and rates from one slot, the hub its threshold and
configuration version from another. A reorder or a widened type that breaks such packing still
compiles and passes every behavioural test, costing only gas: these tests fail instead.

solc reports the layout (standard JSON, `storageLayout`, through the project's npm solc bridge
tools/solc-bridge.js, like `ape compile`). That output needs no code generation: one compile of
the deployed contracts takes a few seconds, is done once per session and kept under
.cache/storage-layout/, keyed by a hash of every source it depends on, so a later session (or the
other pytest-xdist worker) reads the file. Files are written whole, then renamed into place.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "tools" / "solc-bridge.js"
CACHE = ROOT / ".cache" / "storage-layout"
#: The contracts a deployment holds (ProtocolTimelock is OpenZeppelin's, with nothing packed).
DEPLOYED = ("JobEscrow", "ProviderStaking", "UptimeSlasher", "AttestationHub", "ProtocolTimelock")
REMAPPING = "@openzeppelin/contracts=node_modules/@openzeppelin/contracts"

#: State variables that share a slot, as (slot, byte offset), per the comments beside them.
PACKED_VARIABLES: dict[str, dict[str, tuple[int, int]]] = {
    # "These parameters share the slot of Pausable's `_paused` flag: createJob reads them all
    # with one cold SLOAD and writes the job counter into an already-warm slot."
    "JobEscrow": {
        "_paused": (1, 0),  # OpenZeppelin Pausable
        "_jobCount": (1, 1),
        "feeBps": (1, 9),
        "acceptWindow": (1, 11),
        "maxJobDuration": (1, 15),
        "currentTermsId": (1, 19),
    },
    # "One slot for the two totals every slash updates."
    "ProviderStaking": {"totalStaked": (4, 0), "totalClaimable": (4, 16)},
    "UptimeSlasher": {
        # "One slot: the latest schedule ... and the rates a report reads."
        "_firstEpoch": (1, 0),
        "_startTime": (1, 8),
        "_epochLength": (1, 13),
        "_statuteEpochs": (1, 17),
        "_slaBps": (1, 19),
        "_uptimeSlashBps": (1, 21),
        "_relayerRewardBps": (1, 23),
        "_scheduleCount": (1, 25),
        # "One slot: the caps."
        "_uptimeSlashCap": (2, 0),
        "_relayerRewardCap": (2, 16),
    },
    # "One slot: both are read by every quorum check."
    "AttestationHub": {"_threshold": (3, 0), "_configVersion": (3, 16)},
}

#: Packed structs: every member's (slot within the struct, byte offset), and the struct's size in
#: slots. A new member has to be placed here deliberately.
PACKED_STRUCTS: dict[tuple[str, str], tuple[int, dict[str, tuple[int, int]]]] = {
    # slot 0: everything a transition writes; slots 1 and 2: fixed at creation.
    ("JobEscrow", "Job"): (
        3,
        {
            "status": (0, 0),
            "timer": (0, 1),
            "units": (0, 6),
            "collateral": (0, 12),
            "tokenId": (0, 28),
            "termsId": (0, 29),
            "client": (1, 0),
            "deadline": (1, 20),
            "maxUnits": (1, 25),
            "provider": (2, 0),
            "unitPrice": (2, 20),
        },
    ),
    # The terms a job keeps: one read when it is settled or disputed.
    ("JobEscrow", "Terms"): (
        1,
        {
            "feeBps": (0, 0),
            "challengeWindow": (0, 2),
            "disputeTimeout": (0, 6),
            "disputeBondBps": (0, 10),
            "clientSlashShareBps": (0, 12),
        },
    ),
    ("JobEscrow", "PaymentToken"): (1, {"id": (0, 0), "registered": (0, 1), "allowed": (0, 2)}),
    # slot 0: everything lockCollateral reads and writes; slot 3: read only after a downtime jail.
    ("ProviderStaking", "Provider"): (
        4,
        {
            "staked": (0, 0),
            "locked": (0, 15),
            "registered": (0, 30),
            "flags": (0, 31),
            "unbonding": (1, 0),
            "unbondingEnd": (1, 15),
            "slaFrom": (1, 20),
            "leftAt": (1, 25),
            "totalSlashed": (2, 0),
            "totalDeposited": (2, 16),
            "shortfall": (3, 0),
        },
    ),
    # A schedule before the latest one: one slot per schedule the epoch walk reads.
    ("UptimeSlasher", "PastSchedule"): (
        1,
        {"firstEpoch": (0, 0), "startTime": (0, 8), "epochLength": (0, 13), "statuteEpochs": (0, 17)},
    ),
}


STRUCT_CASES = sorted(PACKED_STRUCTS)


def _standard_json() -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {f"contracts/{n}.sol": {"content": (ROOT / f"contracts/{n}.sol").read_text()} for n in DEPLOYED},
        "settings": {
            "remappings": [REMAPPING],
            "evmVersion": "cancun",
            "outputSelection": {f"contracts/{n}.sol": {n: ["storageLayout"]} for n in DEPLOYED},
        },
    }


def _cache_key(request: dict[str, Any]) -> str:
    """Everything the layout depends on: the request, every contract source (imports included),
    the OpenZeppelin and solc versions, and the bridge."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode())
    for path in sorted((ROOT / "contracts").rglob("*.sol")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    for path in (
        ROOT / "node_modules" / "@openzeppelin" / "contracts" / "package.json",
        ROOT / "node_modules" / "solc" / "package.json",
        BRIDGE,
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


@functools.cache
def storage_layouts() -> dict[str, dict[str, Any]]:
    """Contract name -> solc's `storageLayout` ({"storage": [...], "types": {...}})."""
    request = _standard_json()
    cached = CACHE / f"{_cache_key(request)}.json"
    if cached.exists():
        layouts: dict[str, dict[str, Any]] = json.loads(cached.read_text())
        return layouts
    run = subprocess.run(
        ["node", str(BRIDGE), "--standard-json", "--base-path", str(ROOT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"solc bridge failed: {run.stderr}"
    output = json.loads(run.stdout)
    problems = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    assert not problems, "\n".join(problems)
    layouts = {n: output["contracts"][f"contracts/{n}.sol"][n]["storageLayout"] for n in DEPLOYED}
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(layouts))
    os.replace(partial, cached)  # atomic: a concurrent reader sees no file or the whole file
    return layouts


@pytest.fixture(scope="session")
def layouts() -> dict[str, dict[str, Any]]:
    return storage_layouts()


def _variables(layout: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {entry["label"]: (int(entry["slot"]), entry["offset"]) for entry in layout["storage"]}


def _struct(layout: dict[str, Any], name: str) -> dict[str, Any]:
    found = [t for key, t in layout["types"].items() if re.fullmatch(rf"t_struct\({name}\)\d+_storage", key)]
    assert len(found) == 1, f"struct {name}: {len(found)} storage types"
    return found[0]


def _members(struct: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {m["label"]: (int(m["slot"]), m["offset"]) for m in struct["members"]}


def test_layouts__every_deployed_contract_reported(layouts):
    assert set(layouts) == set(DEPLOYED)
    assert all(layout["storage"] for layout in layouts.values())


@pytest.mark.parametrize("contract", sorted(PACKED_VARIABLES))
def test_packed_state_variables__slot_and_offset_pinned(layouts, contract):
    actual = _variables(layouts[contract])
    expected = PACKED_VARIABLES[contract]
    assert {label: actual.get(label) for label in expected} == expected


def test_job_escrow__job_counter_and_parameters_share_pausables_slot(layouts):
    """The comment's claim in words: one cold SLOAD gives createJob the pause flag, the counter
    and every new-job parameter."""
    variables = _variables(layouts["JobEscrow"])
    slots = {variables[label][0] for label in PACKED_VARIABLES["JobEscrow"]}
    assert slots == {variables["_paused"][0]}


@pytest.mark.parametrize("contract, struct", STRUCT_CASES, ids=[f"{c}.{s}" for c, s in STRUCT_CASES])
def test_packed_structs__members_slot_and_offset_pinned(layouts, contract, struct):
    slots, expected = PACKED_STRUCTS[(contract, struct)]
    found = _struct(layouts[contract], struct)
    assert _members(found) == expected
    assert int(found["numberOfBytes"]) == 32 * slots


def _slot_comments(source: str, struct: str) -> dict[str, int]:
    """Members of `struct` under a `// slot N` comment in the source -> N."""
    body = re.search(rf"\bstruct {struct} \{{(.*?)\n\s*\}}", source, re.DOTALL)
    assert body, f"struct {struct} not found"
    slot, placed = None, {}
    for line in body.group(1).splitlines():
        comment = re.match(r"\s*// slot (\d+)\b", line)
        if comment:
            slot = int(comment.group(1))
            continue
        member = re.match(r"\s*[\w.]+\s+(\w+);", line)
        if member and slot is not None:
            placed[member.group(1)] = slot
    return placed


@pytest.mark.parametrize("contract, struct", STRUCT_CASES, ids=[f"{c}.{s}" for c, s in STRUCT_CASES])
def test_struct_slot_comments__agree_with_the_compiler(layouts, contract, struct):
    """A struct whose fields are grouped under `// slot N` comments (JobEscrow.Job,
    ProviderStaking.Provider) has each field in that slot: the comments cannot go stale."""
    placed = _slot_comments((ROOT / f"contracts/{contract}.sol").read_text(), struct)
    members = _members(_struct(layouts[contract], struct))
    assert {label: members[label][0] for label in placed} == placed
    if placed:
        assert set(placed) == set(members), "every member of a struct with slot comments sits under one"


def test_slot_comments__found_where_the_contracts_have_them():
    # Guards the parser: if it found nothing, the test above would pass vacuously.
    escrow = _slot_comments((ROOT / "contracts/JobEscrow.sol").read_text(), "Job")
    staking = _slot_comments((ROOT / "contracts/ProviderStaking.sol").read_text(), "Provider")
    assert (escrow["status"], escrow["client"], escrow["unitPrice"]) == (0, 1, 2)
    assert (staking["staked"], staking["unbonding"], staking["totalSlashed"], staking["shortfall"]) == (0, 1, 2, 3)
