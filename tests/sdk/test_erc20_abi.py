"""The SDK speaks to every token with its own generic ERC-20 / EIP-2612 ABI
(computerails/abi/ERC20Permit.json, hand-written), never with a test token's."""

import json
from importlib import resources

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from computerails import errors
from computerails.deployments import load_artifact
from computerails.session import CODECS, _erc20_abi

FUNCTIONS = {
    "name": ((), ("string",)),
    "symbol": ((), ("string",)),
    "decimals": ((), ("uint8",)),
    "totalSupply": ((), ("uint256",)),
    "balanceOf": (("address",), ("uint256",)),
    "allowance": (("address", "address"), ("uint256",)),
    "approve": (("address", "uint256"), ("bool",)),
    "transfer": (("address", "uint256"), ("bool",)),
    "transferFrom": (("address", "address", "uint256"), ("bool",)),
    "nonces": (("address",), ("uint256",)),
    "DOMAIN_SEPARATOR": ((), ("bytes32",)),
    "permit": (("address", "address", "uint256", "uint256", "uint8", "bytes32", "bytes32"), ()),
    "eip712Domain": ((), ("bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]")),
}
ERRORS = {
    "ERC20InsufficientBalance": ("address", "uint256", "uint256"),
    "ERC20InsufficientAllowance": ("address", "uint256", "uint256"),
    "ERC20InvalidApprover": ("address",),
    "ERC20InvalidReceiver": ("address",),
    "ERC20InvalidSender": ("address",),
    "ERC20InvalidSpender": ("address",),
    "ERC2612ExpiredSignature": ("uint256",),
    "ERC2612InvalidSigner": ("address", "address"),
    # what OpenZeppelin v5's permit reverts with for a malformed signature (ECDSA.recover)
    "ECDSAInvalidSignature": (),
    "ECDSAInvalidSignatureLength": ("uint256",),
    "ECDSAInvalidSignatureS": ("bytes32",),
}
EVENTS = {"Transfer": ("address", "address", "uint256"), "Approval": ("address", "address", "uint256")}


def _abi() -> list[dict]:
    return load_artifact("ERC20Permit")["abi"]


def _types(items) -> tuple[str, ...]:
    return tuple(i["type"] for i in items)


def test_erc20_abi__hand_written__exactly_the_standard_surface():
    abi = _abi()
    functions = {i["name"]: (_types(i["inputs"]), _types(i["outputs"])) for i in abi if i["type"] == "function"}
    errors_ = {i["name"]: _types(i["inputs"]) for i in abi if i["type"] == "error"}
    events = {i["name"]: _types(i["inputs"]) for i in abi if i["type"] == "event"}

    assert functions == FUNCTIONS
    assert errors_ == ERRORS
    assert events == EVENTS
    assert [i["indexed"] for e in abi if e["type"] == "event" for i in e["inputs"]] == [True, True, False] * 2
    assert {
        i["stateMutability"]
        for i in abi
        if i["type"] == "function" and i["name"] in ("approve", "transfer", "transferFrom", "permit")
    } == {"nonpayable"}
    assert len(abi) == len(FUNCTIONS) + len(ERRORS) + len(EVENTS)  # no constructor, no test-token extras


def test_erc20_abi__each_entry__as_openzeppelin_v5_compiles_it():
    """MockUSD is OpenZeppelin v5's ERC20Permit plus a faucet: each hand-written entry is its
    build's entry, names and internal types included (decimals is `pure` there: overridden)."""
    built = {(i["type"], i.get("name")): i for i in load_artifact("MockUSD")["abi"]}
    for item in _abi():
        expected = dict(built[(item["type"], item["name"])])
        if item["name"] == "decimals":
            expected["stateMutability"] = "view"
        assert item == expected, item["name"]


def test_erc20_abi__file__marked_hand_written_without_bytecode():
    data = json.loads(resources.files("computerails.abi").joinpath("ERC20Permit.json").read_text())
    assert "bytecode" not in data
    assert data["source"].startswith("hand-written, not exported")


def test_codecs__tokens__generic_abi_not_a_test_token():
    assert "ERC20Permit" in CODECS
    assert not [name for name in CODECS if name.startswith("Mock")]


def test_erc20_handle__real_chain__generic_abi_only():
    assert list(_erc20_abi(False)) == _abi()


def test_erc20_handle__devnet__generic_abi_plus_faucet(client_rails, usd):
    token = client_rails.erc20(usd.address)
    names = sorted(i["name"] for i in token.abi if i["type"] == "function")
    assert names == sorted([*FUNCTIONS, "mint"])
    assert token.functions.symbol().call() == "mUSD"


def test_errors__generic_abi_errors__registered_under_their_names():
    for name, types in ERRORS.items():
        selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
        samples = {"address": "0x" + "11" * 20, "uint256": 5, "bytes32": b"\x01" * 32}
        exc = errors.decode_revert(selector + encode(list(types), [samples[t] for t in types]))
        assert type(exc) is getattr(errors, name) and exc.error_name == name
        assert errors.ERRORS_BY_SELECTOR[selector] is getattr(errors, name)
