"""computerails.rewards.merkle: OpenZeppelin StandardMerkleTree layout (double-hashed leaves,
sorted pairs, the library's array order), proofs that verify, and typed refusals. On-chain
verification of the same trees: tests/contracts/rewards/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak

from computerails.rewards import RewardsTree, leaf_hash
from computerails.rewards.merkle import verify

A = "0x" + "11" * 20
B = "0x" + "22" * 20
C = "0x" + "33" * 20


def test_leaf__double_hash_of_abi_encoding():
    encoded = bytes(12) + bytes.fromhex("11" * 20) + (5).to_bytes(32, "big")
    assert leaf_hash(A, 5) == keccak(keccak(encoded))


def test_tree__one_account__root_is_its_leaf_and_proof_empty():
    tree = RewardsTree.of({A: 5})
    assert tree.root == leaf_hash(A, 5)
    assert tree.proof(A) == []


def test_tree__two_accounts__root_hashes_the_sorted_pair():
    tree = RewardsTree.of({A: 5, B: 7})
    low, high = sorted([leaf_hash(A, 5), leaf_hash(B, 7)])
    assert tree.root == keccak(low + high)
    assert tree.proof(A) == [leaf_hash(B, 7)]


@pytest.mark.parametrize("count", [3, 4, 5, 17, 100])
def test_tree__every_account__its_proof_verifies_and_no_other_amount_does(count):
    amounts = {"0x" + keccak(i.to_bytes(4, "big"))[12:].hex(): i + 1 for i in range(count)}
    tree = RewardsTree.of(amounts)
    assert tree.total == sum(amounts.values())
    for account, amount in amounts.items():
        assert verify(tree.root, account, amount, tree.proof(account))
        assert not verify(tree.root, account, amount + 1, tree.proof(account))


def test_tree__order_given__same_root():
    assert RewardsTree.of({A: 1, B: 2, C: 3}).root == RewardsTree.of([(C, 3), (A, 1), (B, 2)]).root


def test_tree__checksummed_and_lowercase__same_account():
    tree = RewardsTree.of({"0x" + "ab" * 20: 9})
    assert tree.amount("0x" + "AB" * 20) == 9


def test_dump__standard_v1_document():
    tree = RewardsTree.of({A: 1, B: 2})
    dump = tree.dump()
    assert dump["format"] == "standard-v1"
    assert dump["leafEncoding"] == ["address", "uint256"]
    assert dump["tree"][0] == "0x" + tree.root.hex()
    assert [v["value"][1] for v in dump["values"]] == ["1", "2"]
    assert {v["treeIndex"] for v in dump["values"]} == {1, 2}


def test_of__empty__value_error():
    with pytest.raises(ValueError, match="at least one account"):
        RewardsTree.of({})


def test_of__same_account_twice_in_two_cases__value_error():
    with pytest.raises(ValueError, match="appears twice"):
        RewardsTree.of([("0x" + "ab" * 20, 1), ("0x" + "AB" * 20, 2)])


@pytest.mark.parametrize("bad", ["0x1234", "11" * 21, "0x" + "zz" * 20])
def test_of__malformed_address__value_error(bad):
    with pytest.raises(ValueError, match="20-byte hex address"):
        RewardsTree.of({bad: 1})


def test_of__negative_amount__value_error():
    with pytest.raises(ValueError, match="not a uint256"):
        RewardsTree.of({A: -1})


def test_proof__account_not_in_tree__key_error():
    with pytest.raises(KeyError):
        RewardsTree.of({A: 1}).proof(B)


# ───────────────────── against OpenZeppelin's JavaScript library ─────────────────────

NODE = shutil.which("node")
CHECK = Path(__file__).resolve().parents[2] / "tools" / "merkle_tree_check.js"


@pytest.mark.parametrize("count", [1, 2, 7, 64])
def test_tree__openzeppelin_merkle_tree__loads_ours_and_builds_the_same(tmp_path, count):
    assert NODE is not None, "node is installed by make setup (npm)"
    amounts = {"0x" + keccak(b"js" + i.to_bytes(4, "big"))[12:].hex(): (i + 1) * 10**18 + i for i in range(count)}
    tree = RewardsTree.of(amounts)
    dump = tmp_path / "tree.json"
    dump.write_text(json.dumps(tree.dump()))

    answer = subprocess.run(
        [NODE, str(CHECK), str(dump)], cwd=CHECK.parents[1], capture_output=True, text=True, timeout=60, check=True
    )

    js = json.loads(answer.stdout)
    assert js["loadedRoot"] == js["freshRoot"] == "0x" + tree.root.hex()
    for account in amounts:
        assert js["proofs"][account] == ["0x" + p.hex() for p in tree.proof(account)]
