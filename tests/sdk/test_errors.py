"""Every custom error of every exported ABI maps to the SDK exception of the same name."""

import json
from importlib import resources

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3.exceptions import ContractCustomError

from computerails import JobStatus, errors
from computerails.tx import revert_from_exception

ADDRESS = "0x" + "ab" * 20
SAMPLES = {
    "address": ADDRESS,
    "uint256": 123_456,
    "uint8": 3,
    "bytes32": b"\x07" * 32,
    "string": "minStake",
    "bool": True,
}


def _error_entries():
    for path in sorted(resources.files("computerails.abi").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".json"):
            for item in json.loads(path.read_text())["abi"]:
                if item["type"] == "error":
                    yield path.name[:-5], item


ENTRIES = list(_error_entries())


def test_decode_revert__every_abi_error__named_class_with_decoded_args():
    assert len(ENTRIES) > 60  # six ABIs with the OpenZeppelin errors: the walk found them
    for contract, item in ENTRIES:
        types = [i["type"] for i in item["inputs"]]
        selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
        data = selector + encode(types, [SAMPLES[t] for t in types])

        exc = errors.decode_revert("0x" + data.hex())

        where = f"{contract}.{item['name']}"
        assert type(exc) is getattr(errors, errors.revert_class_name(item["name"])), where
        assert isinstance(exc, errors.ContractRevert) and exc.error_name == item["name"], where
        assert list(exc.args_dict) == [i["name"] for i in item["inputs"]], where
        for spec, value in zip(item["inputs"], exc.args_dict.values()):
            if spec["type"] == "address":
                assert value == to_checksum_address(ADDRESS), where
            elif spec["internalType"].endswith("JobStatus"):
                assert value is JobStatus.ATTESTED, where
            else:
                assert value == SAMPLES[spec["type"]], where
        assert exc.data == "0x" + data.hex()
        assert errors.decode_revert(data).args_dict == exc.args_dict  # bytes in, same result


def test_decode_revert__job_status_args__enum_members_by_index():
    item = next(i for _, i in ENTRIES if i["name"] == "UnexpectedJobStatus")
    selector = function_signature_to_4byte_selector("UnexpectedJobStatus(uint256,uint8,uint8)")
    for index, status in enumerate(JobStatus):
        exc = errors.decode_revert(selector + encode(["uint256", "uint8", "uint8"], [5, index, 8]))
        assert exc.args_dict == {"jobId": 5, "expected": status, "actual": JobStatus.CANCELLED}
    assert [i["name"] for i in item["inputs"]] == ["jobId", "expected", "actual"]


def test_out_of_range_errors__one_shape__caught_as_parameter_out_of_range():
    """Issue 10: every <Name>OutOfRange error of every ABI is (uint256 min, uint256 max, uint256
    value), bounds before the value, and its class is an errors.ParameterOutOfRange."""
    found = [(contract, item) for contract, item in ENTRIES if item["name"].endswith("OutOfRange")]
    assert {"FeeOutOfRange", "BpsOutOfRange", "EpochLengthOutOfRange", "UnbondingDelayOutOfRange"} <= {
        item["name"] for _, item in found
    }
    for contract, item in found:
        where = f"{contract}.{item['name']}"
        assert [(i["name"], i["type"]) for i in item["inputs"]] == [
            ("min", "uint256"),
            ("max", "uint256"),
            ("value", "uint256"),
        ], where
        assert issubclass(getattr(errors, item["name"]), errors.ParameterOutOfRange), where
    assert not issubclass(errors.NotJobClient, errors.ParameterOutOfRange)

    data = function_signature_to_4byte_selector("FeeOutOfRange(uint256,uint256,uint256)") + encode(
        ["uint256"] * 3, [0, 1_000, 1_001]
    )
    with pytest.raises(errors.ParameterOutOfRange) as caught:
        raise errors.decode_revert(data)
    assert type(caught.value) is errors.FeeOutOfRange
    assert (caught.value.min, caught.value.max, caught.value.value) == (0, 1_000, 1_001)


@pytest.mark.parametrize(
    "old",
    [
        "ParamOutOfRange",
        "FeeTooHigh",
        "InvalidShareBps",
        "UnbondingDelayTooLong",
        "UnbondingDelayTooShort",
        "ReportWindowTooLong",
    ],
)
def test_errors_module__names_replaced_in_issue_10__gone(old):
    assert not hasattr(errors, old)


@pytest.mark.parametrize(
    "data",
    [
        "0xdeadbeef" + "00" * 32,  # unknown selector
        "0x08c379a0" + encode(["string"], ["plain require"]).hex(),  # Error(string)
        "0x4e487b71" + encode(["uint256"], [0x11]).hex(),  # Panic(uint256)
        "0x",
        None,
    ],
    ids=["unknown_selector", "error_string", "panic", "empty", "none"],
)
def test_decode_revert__not_a_known_custom_error__unknown_revert(data):
    exc = errors.decode_revert(data)
    assert type(exc) is errors.UnknownRevert
    assert exc.args_dict == {"data": data or "0x"}


def test_decode_revert__known_selector_with_truncated_args__unknown_revert():
    data = function_signature_to_4byte_selector("NotJobClient(address,address)") + b"\x00" * 40
    exc = errors.decode_revert(data)
    assert type(exc) is errors.UnknownRevert and exc.data == "0x" + data.hex()


def test_revert_from_exception__web3_custom_error__mapped_and_string_reason_unknown():
    data = function_signature_to_4byte_selector("NothingToClaim(address)") + encode(["address"], [ADDRESS])
    mapped = revert_from_exception(ContractCustomError("0x" + data.hex(), data="0x" + data.hex()))
    assert type(mapped) is errors.NothingToClaim and mapped.account == to_checksum_address(ADDRESS)
    nested = revert_from_exception(type("E", (Exception,), {"data": {"data": "0x" + data.hex()}})())
    assert type(nested) is errors.NothingToClaim
    unknown = revert_from_exception(RuntimeError("execution reverted"))
    assert type(unknown) is errors.UnknownRevert and unknown.args_dict == {"reason": "execution reverted"}


def test_errors_module__unknown_name__attribute_error():
    """The module's __getattr__ only types the ABI-made classes for type checkers: a name that
    is none of them is still missing."""
    assert errors.NotJobClient.error_name == "NotJobClient"  # made from the ABIs at import
    with pytest.raises(AttributeError, match="has no attribute 'NotAnError'"):
        errors.NotAnError  # noqa: B018
    assert not hasattr(errors, "NotAnError")


@pytest.mark.parametrize("name", sorted(errors.REVERT_SUFFIXED))
def test_decode_revert__error_named_like_an_sdk_check__revert_class_suffixed_sdk_class_kept(name):
    """MeteredEscrow's StaleVoucher and InvalidVoucherSignature share their names with the SDK's
    off-chain voucher checks: the revert decodes to ``<Name>Revert``, and ``errors.<Name>`` stays
    the SDK's precondition (nothing sent)."""
    (item,) = [i for c, i in ENTRIES if c == "MeteredEscrow" and i["name"] == name]
    types = [i["type"] for i in item["inputs"]]
    data = function_signature_to_4byte_selector(f"{name}({','.join(types)})") + encode(
        types, [SAMPLES[t] for t in types]
    )

    exc = errors.decode_revert(data)

    assert type(exc) is getattr(errors, name + "Revert")
    assert isinstance(exc, errors.ContractRevert) and exc.error_name == name
    assert issubclass(getattr(errors, name), errors.PreconditionError)
    assert not issubclass(getattr(errors, name), errors.ContractRevert)
