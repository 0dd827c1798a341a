"""Test tokens and ether for a devnet account: what ``computerails devnet fund`` does.

The devnet's test tokens (``contracts/test/``: ``MockUSD``, ``MockStakeToken``) have an open
``mint(to, amount)``. Funding refuses any chain that is not a devnet (by chain id) and any token
whose code is not one of those test tokens' (compared with the shipped bytecode, leaving out
immutables and the metadata hash), so it can never be pointed at real money.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.exceptions import Web3RPCError

from computerails._rpc import TRANSIENT, unreachable
from computerails.addresses import parse_address
from computerails.deployments import DEVNET_CHAIN_IDS, Deployment, load_artifact
from computerails.devnet.keys import GOVERNANCE_INDEX, dev_key
from computerails.errors import ComputeRailsError
from computerails.rails import connect, http_provider
from computerails.tx import Call
from computerails.types import TokenInfo, from_raw, to_raw

#: The devnet's test tokens (contracts/test/), as exported into the package.
TEST_TOKENS = ("MockUSD", "MockStakeToken")
#: Ether is counted in wei.
ETHER_DECIMALS = 18


class NotADevnet(ComputeRailsError):
    """The chain, or a token of its deployment, is not the devnet's: nothing was minted or sent."""


@dataclass(frozen=True)
class Funding:
    """What one ``fund`` call gave and the balances after it."""

    address: str
    chain_id: int
    given: dict[str, Decimal]  # symbol (or "ETH") -> amount
    balances: dict[str, Decimal]  # symbol (or "ETH") -> balance after


def _strip_metadata(code: bytes) -> bytes:
    """Runtime code without its trailing CBOR metadata (whose hash changes with any comment)."""
    if len(code) < 2:
        return code
    length = int.from_bytes(code[-2:], "big") + 2
    return code[:-length] if length <= len(code) else code


def same_code(deployed: bytes, creation: bytes) -> bool:
    """Whether runtime code on chain is the runtime part of `creation` (a contract's creation
    bytecode): equal byte for byte, except in immutable slots (zero in the creation code's copy)
    and in the metadata hash."""
    if not deployed or len(deployed) > len(creation):
        return False
    template = creation[-len(deployed) :]
    deployed, template = _strip_metadata(deployed), _strip_metadata(template)
    if len(deployed) != len(template):
        return False
    return all(a == b or b == 0 for a, b in zip(deployed, template))


def devnet_token_name(code: bytes) -> str | None:
    """Which devnet test token `code` (runtime code read from the chain) is, or None."""
    for name in TEST_TOKENS:
        creation = bytes.fromhex(str(load_artifact(name)["bytecode"]).removeprefix("0x"))
        if same_code(code, creation):
            return name
    return None


def check_devnet(w3: Web3, deployment: Deployment | None = None) -> int:
    """The chain id, after checking that the chain and the deployment's tokens are the devnet's.

    Raises:
        NotADevnet: the chain id is not a devnet's, or a token's code is not a test token's.
        RPCUnavailable: the node did not answer.
    """
    try:
        chain_id = int(w3.eth.chain_id)
    except TRANSIENT as exc:
        raise unreachable(w3, exc) from None
    if chain_id not in DEVNET_CHAIN_IDS:
        ids = ", ".join(str(i) for i in sorted(DEVNET_CHAIN_IDS))
        raise NotADevnet(
            f"chain {chain_id} is not a devnet (devnet chain ids: {ids}): its tokens are not test tokens; "
            "get them from that network's own faucet"
        )
    if deployment is not None:
        tokens = [("staking token", deployment.staking_token)] + [
            ("payment token", t) for t in deployment.payment_tokens
        ]
        for what, address in tokens:
            code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
            if devnet_token_name(code) is None:
                raise NotADevnet(
                    f"the {what} {address} on chain {chain_id} is not one of the devnet's test tokens "
                    f"({', '.join(TEST_TOKENS)}): refusing to mint"
                )
    return chain_id


def fund(
    rpc: str | Web3,
    deployment: str | int | Deployment | None,
    address: str,
    *,
    usd: Decimal = Decimal(10_000),
    stake: Decimal = Decimal(10_000),
    eth: Decimal = Decimal(10),
    funder_key: Any = None,
) -> Funding:
    """Mint test tokens to `address` and give it ether, on a devnet only.

    Args:
        rpc: the devnet's RPC URL (or a ``Web3``).
        deployment: its deployment (a path, a chain id, or None for the registry's).
        address: who receives.
        usd: payment tokens (the deployment's first) to mint, in token units.
        stake: staking tokens to mint, in token units.
        eth: ether to add: ``anvil_setBalance``, or a transfer from the funder where the node
            has no such method.
        funder_key: who sends the mints (default: the dev mnemonic's account 0, the deployer).

    Raises:
        NotADevnet: not a devnet, or its tokens are not the test tokens (nothing was sent).
        InvalidAddress, InvalidAmount: a bad address or amount (nothing was sent).
    """
    address = parse_address(address, "recipient")
    for amount in (usd, stake, eth):
        to_raw(amount, ETHER_DECIMALS)  # refuses negatives and non-numbers before anything is read or sent
    w3 = rpc if isinstance(rpc, Web3) else Web3(http_provider(rpc))
    check_devnet(w3)  # before the deployment is even loaded: a deployment file proves nothing
    rails = connect(w3, deployment, account=funder_key or dev_key(GOVERNANCE_INDEX))
    chain_id = check_devnet(w3, rails.deployment)
    rpc_ = rails.rpc
    wei = to_raw(eth, ETHER_DECIMALS)
    if rpc_.request("eth_getBalance", [rails.address, "latest"], lambda v: int(v, 16)) == 0:
        _set_balance(rails, rails.address, 10**20)  # the funder pays the mints' gas
    given: dict[str, Decimal] = {}
    tokens: list[TokenInfo] = []
    for token_address, amount in ((rails.deployment.payment_tokens[0], usd), (rails.deployment.staking_token, stake)):
        info = rails.token(token_address)
        tokens.append(info)
        raw = to_raw(amount, info.decimals)
        if raw:
            rails.send(rails.erc20(info.address).functions.mint(address, raw), "mint")
        given[info.symbol] = from_raw(raw, info.decimals)
    if wei:
        before = rpc_.request("eth_getBalance", [address, "latest"], lambda v: int(v, 16))
        if not _set_balance(rails, address, before + wei):
            rails.tx.send(Call(address, "0x", "transfer"), label="transfer", value=wei)
    given["ETH"] = from_raw(wei, ETHER_DECIMALS)
    balances = {
        info.symbol: from_raw(rails.read("ERC20Permit", info.address, "balanceOf", address), info.decimals)
        for info in tokens
    }
    balances["ETH"] = from_raw(
        rpc_.request("eth_getBalance", [address, "latest"], lambda v: int(v, 16)), ETHER_DECIMALS
    )
    return Funding(address=address, chain_id=chain_id, given=given, balances=balances)


def _set_balance(rails: Any, address: str, wei: int) -> bool:
    """anvil_setBalance; False where the node has no such method."""
    try:
        rails.rpc.request("anvil_setBalance", [address, hex(wei)])
    except Web3RPCError:  # the node does not know the method: the caller transfers instead
        return False
    return True
