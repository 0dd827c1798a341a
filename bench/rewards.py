"""Incentive emissions (issue 16): the RewardsDistributor's gas at 100,000 leaves against its
floors, on a fresh anvil with the protocol deployed.

The distributor is deployed on the protocol's AttestationHub with the staking token as reward
token and funded; the hub's threshold is raised to k = 3 (all three devnet oracles sign). A tree of
`leaves` accounts (the claimants among them) is built with :class:`computerails.rewards.RewardsTree`
(its build time is printed too: the issue's bound is 10 s on one core), posted, activated and
claimed; then a second tree (every amount grown) is posted and claimed again. Measured, each in
the state a network is in most of the time:

* ``postRoot`` with k = 3 in steady state (the third post: the two root banks hold roots already);
* an account's first claim (its claimed slot fresh; its wallet holds the token already), a repeat
  claim, and ``claimMany`` of 50 repeat claims (per claim).

Floors come from :mod:`bench.costs` (``rewards_*``): calldata, signatures, the slots the effect
must read and write, the token transfer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3

from bench import costs
from computerails import eip712
from computerails.deployments import load_artifact
from computerails.devnet import Anvil, ape_build_artifacts, deploy_protocol, dev_key, grant_direct_governance
from computerails.rewards import RewardsTree, RootPost

ROOT = Path(__file__).resolve().parents[1]
STAKE = 10**18
EPOCH = 3_600
BATCH = 50
#: The issue's budgets.
BUDGETS = {"post_root_k3": 90_000, "first_claim": 95_000, "repeat_claim": 65_000, "claim_many_per_claim": 45_000}


class _Node:
    def __init__(self, url: str, artifacts: Any) -> None:
        self.w3 = Web3(HTTPProvider(url))
        self.artifacts = artifacts
        self.chain_id = int(self.w3.eth.chain_id)

    def send(self, key: str, to: str | None, data: bytes | str) -> dict[str, Any]:
        account = Account.from_key(key)
        tx: dict[str, Any] = {
            "data": data,
            "gas": 15_000_000,
            "gasPrice": int(self.w3.eth.gas_price),
            "nonce": self.w3.eth.get_transaction_count(account.address),
            "chainId": self.chain_id,
        }
        if to is not None:
            tx["to"] = to
        signed = account.sign_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction to {to} reverted")
        return dict(receipt)

    def warp(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def measure(leaves: int = 100_000) -> dict[str, Any]:
    build = ROOT / ".build" / "__local__.json"
    artifacts = ape_build_artifacts(build) if build.exists() else load_artifact
    with Anvil() as node_process:
        node = _Node(node_process.url, artifacts)
        gov_key = dev_key(0)
        deployment = deploy_protocol(node.w3, gov_key, artifacts=artifacts)
        grant_direct_governance(node.w3, deployment, gov_key, artifacts=artifacts)
        gov = Account.from_key(gov_key).address
        hub = node.w3.eth.contract(
            address=deployment.contracts["AttestationHub"], abi=artifacts("AttestationHub")["abi"]
        )
        token = node.w3.eth.contract(address=deployment.staking_token, abi=artifacts("MockStakeToken")["abi"])
        oracle_keys = sorted((dev_key(i) for i in (17, 18, 19)), key=lambda k: int(Account.from_key(k).address, 16))
        node.send(gov_key, hub.address, hub.encode_abi("setThreshold", [3]))
        artifact = artifacts("RewardsDistributor")
        factory = node.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        genesis = int(node.w3.eth.get_block("latest")["timestamp"])
        params = (10**28, 4, 100 * 10**6, 2, 600)
        created = node.send(
            gov_key,
            None,
            factory.constructor(token.address, hub.address, gov, genesis, EPOCH, params).data_in_transaction,
        )
        d = node.w3.eth.contract(address=created["contractAddress"], abi=artifact["abi"])
        reserve = 10**24
        node.send(gov_key, token.address, token.encode_abi("mint", [gov, reserve]))
        node.send(gov_key, token.address, token.encode_abi("approve", [d.address, reserve]))
        node.send(gov_key, d.address, d.encode_abi("fund", [reserve]))

        claimant_key = dev_key(5)
        claimant = Account.from_key(claimant_key).address
        strangers = [to_checksum_address(keccak(i.to_bytes(32, "big"))[12:]) for i in range(leaves - 1)]
        for a in [claimant, *strangers[:BATCH]]:  # every payout's wallet already holds the token
            node.send(gov_key, token.address, token.encode_abi("mint", [a, 1]))

        def tree(bump: int) -> tuple[RewardsTree, float]:
            amounts = {a: STAKE + bump + i for i, a in enumerate(strangers)}
            amounts[claimant] = 100 * STAKE + bump
            started = time.perf_counter()
            built = RewardsTree.of(amounts)
            return built, time.perf_counter() - started

        def post_data(t: RewardsTree, through: int) -> bytes:
            """postRoot's calldata for `t` over `through` epochs (no fees), signed by the k = 3 oracles."""
            p = RootPost(t.root, t.total, through, (0,), int(hub.functions.configVersion().call()))
            digest = p.digest(node.chain_id, d.address)
            signatures = eip712.sign_all(digest, oracle_keys)
            return bytes.fromhex(d.encode_abi("postRoot", [p.as_tuple(), signatures])[2:])  # type: ignore[index]

        def post(t: RewardsTree, through: int) -> None:
            node.send(oracle_keys[0], d.address, post_data(t, through))
            node.warp(601)  # past the activation delay

        def claim_data(t: RewardsTree, account: str) -> bytes:
            return bytes.fromhex(
                d.encode_abi("claim", [account, t.amount(account), t.proof(account)])[2:]  # type: ignore[index]
            )

        def many_data(t: RewardsTree) -> bytes:
            items = [(a, t.amount(a), t.proof(a)) for a in strangers[:BATCH]]
            return bytes.fromhex(d.encode_abi("claimMany", [items])[2:])  # type: ignore[index]

        rows: list[dict[str, Any]] = []
        build_seconds = []
        node.warp(EPOCH)  # epoch 0 ended
        first, seconds = tree(0)
        build_seconds.append(seconds)
        post(first, 1)
        node.send(claimant_key, d.address, many_data(first))  # others claim first: the claimed total is not 0
        data = claim_data(first, claimant)
        r = node.send(claimant_key, d.address, data)
        rows.append(_row("claim, an account's first", r, costs.rewards_claim(data, first_for_account=True)))
        node.warp(EPOCH)
        second, seconds = tree(STAKE)
        build_seconds.append(seconds)
        post(second, 2)
        data = claim_data(second, claimant)
        r = node.send(claimant_key, d.address, data)
        rows.append(_row("claim, repeat", r, costs.rewards_claim(data, first_for_account=False)))
        data = many_data(second)
        r = node.send(claimant_key, d.address, data)
        rows.append(_row(f"claimMany @ {BATCH}, per claim", r, costs.rewards_claim_many(data, BATCH), size=BATCH))
        node.warp(EPOCH)
        third, seconds = tree(2 * STAKE)
        build_seconds.append(seconds)
        data = post_data(third, 3)
        r = node.send(oracle_keys[0], d.address, data)
        rows.insert(0, _row("postRoot, k = 3, steady", r, costs.rewards_post(data, k=3)))
    budgets = dict(zip(("post_root_k3", "first_claim", "repeat_claim", "claim_many_per_claim"), rows, strict=True))
    for key, row in budgets.items():
        row["budget"] = BUDGETS[key]
    return {
        "leaves": leaves,
        "proof_hashes": len(third.proof(claimant)),
        "tree_build_seconds": [round(s, 2) for s in build_seconds],
        "rows": rows,
    }


def _row(name: str, receipt: dict[str, Any], floor: costs.Floor, size: int = 1) -> dict[str, Any]:
    gas = int(receipt["gasUsed"]) / size
    total = floor.total / size
    return {
        "name": name,
        "gas": round(gas),
        "floor": round(total),
        "ratio": round(gas / total, 2),
        "terms": floor.as_dict(),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = ["| Operation | Gas | Floor | Ratio | Budget (issue) |", "|---|---:|---:|---:|---|"]
    for row in result["rows"]:
        verdict = "✔" if row["gas"] <= row["budget"] else "✘"
        budget = f"≤ {row['budget']:,} {verdict}"
        lines.append(f"| {row['name']} | {row['gas']:,} | {row['floor']:,} | {row['ratio']:.2f} | {budget} |")
    builds = ", ".join(f"{s:.2f} s" for s in result["tree_build_seconds"])
    lines += [
        "",
        f"{result['leaves']:,} leaves (the measured account's proof: {result['proof_hashes']} hashes); claims pay "
        "the staking token into wallets that "
        f"hold it already; building each tree of {result['leaves']:,} accounts took {builds} (issue: under 10 s "
        "on one core).",
    ]
    return "\n".join(lines)
