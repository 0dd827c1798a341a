"""EIP-712 golden vectors: the SDK's hand-built digests equal the contract's and eth-account's."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractCustomError

from computerails import Attestation, UptimeReport, eip712, errors
from computerails.tx import revert_from_exception

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))
KEYS = st.integers(min_value=1, max_value=2 * eip712.SECP256K1_HALF_N).map(lambda k: k.to_bytes(32, "big"))
N = 2 * eip712.SECP256K1_HALF_N + 1

attestations = st.builds(
    Attestation,
    job_id=UINT256,
    provider=ADDRESSES,
    success=st.booleans(),
    units=UINT256,
    result_hash=st.binary(min_size=32, max_size=32),
    deadline=UINT256,
    config_version=UINT256,
)
reports = st.builds(
    UptimeReport,
    provider=ADDRESSES,
    epoch=UINT256,
    uptime_bps=st.integers(0, 10_000),
    relayer=ADDRESSES,
    config_version=UINT256,
)

HYPOTHESIS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _eth_account_hash(primary, rails, message) -> bytes:
    signable = encode_typed_data(full_message=eip712.typed_data(primary, rails.chain_id, rails.hub.address, message))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@HYPOTHESIS
@given(att=attestations, key=KEYS)
def test_attestation_digest__generated__sdk_contract_and_eth_account_agree(readonly, att, key):
    digest = att.digest(readonly.chain_id, readonly.hub.address)
    message = {
        "jobId": att.job_id,
        "provider": att.provider,
        "success": att.success,
        "units": att.units,
        "resultHash": bytes.fromhex(att.result_hash[2:]),
        "deadline": att.deadline,
        "configVersion": att.config_version,
    }

    assert digest == readonly.hub.functions.attestationDigest(att.as_tuple()).call()
    assert digest == _eth_account_hash("ComputeAttestation", readonly, message)
    signature = eip712.sign_digest(digest, key)
    assert eip712.recover(digest, signature) == Account.from_key(key).address


@HYPOTHESIS
@given(report=reports, key=KEYS)
def test_uptime_report_digest__generated__sdk_contract_and_eth_account_agree(readonly, report, key):
    digest = report.digest(readonly.chain_id, readonly.hub.address)
    message = {
        "provider": report.provider,
        "epoch": report.epoch,
        "uptimeBps": report.uptime_bps,
        "relayer": report.relayer,
        "configVersion": report.config_version,
    }

    assert digest == readonly.hub.functions.uptimeReportDigest(report.as_tuple()).call()
    assert digest == _eth_account_hash("UptimeReport", readonly, message)
    signature = eip712.sign_digest(digest, key)
    assert int.from_bytes(signature[32:64], "big") <= eip712.SECP256K1_HALF_N  # low s, as the hub requires
    assert eip712.recover(digest, signature) == Account.from_key(key).address


def test_digest__other_chain_hub_or_config__differs(readonly):
    att = Attestation(
        job_id=1,
        provider="0x" + "11" * 20,
        success=True,
        units=1,
        result_hash=b"\x00" * 32,
        deadline=1,
        config_version=1,
    )
    here = att.digest(readonly.chain_id, readonly.hub.address)
    assert att.digest(1, readonly.hub.address) != here
    assert att.digest(readonly.chain_id, readonly.escrow.address) != here
    assert att.model_copy(update={"config_version": 2}).digest(readonly.chain_id, readonly.hub.address) != here


def test_as_tuple__config_version_unset__value_error_says_how_to_fix():
    att = Attestation(job_id=1, provider="0x" + "11" * 20, success=True, units=1, result_hash=b"\x00" * 32, deadline=1)
    with pytest.raises(ValueError, match="config_version is not set: sign and relay through rails.oracle"):
        att.as_tuple()


def test_recover__high_s_twin_and_malformed__value_error():
    digest = keccak(b"statement")
    key = b"\x01" * 32
    signature = eip712.sign_digest(digest, key)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    twin = r + (N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, malleable form

    with pytest.raises(ValueError, match="upper half"):
        eip712.recover(digest, twin)
    with pytest.raises(ValueError, match="64 bytes, expected 65"):
        eip712.recover(digest, signature[:64])
    with pytest.raises(ValueError, match="v is 1"):
        eip712.recover(digest, signature[:64] + b"\x01")
    assert eip712.recover(digest, signature) == Account.from_key(key).address


def test_pack_signatures__unordered__ascending_signers_and_duplicates_refused():
    low, high = "0x" + "01" * 20, "0x" + "ff" * 20
    a, b = b"\xaa" * 65, b"\xbb" * 65
    assert eip712.pack_signatures([(high, b), (low, a)]) == a + b
    with pytest.raises(ValueError, match="appears twice"):
        eip712.pack_signatures([(low, a), (low.upper().replace("0X", "0x"), b)])
    with pytest.raises(ValueError, match="64 bytes"):
        eip712.pack_signatures([(low, a[:64])])


def test_hub_check__high_s_twin__contract_rejects_it_too(readonly, oracle_keys):
    att = readonly.oracle.prepare(
        Attestation(
            job_id=1,
            provider="0x" + "11" * 20,
            success=True,
            units=1,
            result_hash=b"\x00" * 32,
            deadline=readonly.now() + 600,
        )
    )
    sigs = readonly.oracle.collect_signatures(att, oracle_keys)
    packed = eip712.pack_signatures((s.signer, s.raw) for s in sigs)
    readonly.hub.functions.checkAttestation(att.as_tuple(), packed).call()  # the quorum itself is valid
    raw = sigs[0].raw
    twin = raw[:32] + (N - int.from_bytes(raw[32:64], "big")).to_bytes(32, "big") + bytes([55 - raw[64]])
    bad = eip712.pack_signatures([(sigs[0].signer, twin), (sigs[1].signer, sigs[1].raw)])
    with pytest.raises(ContractCustomError) as info:
        readonly.hub.functions.checkAttestation(att.as_tuple(), bad).call()
    mapped = revert_from_exception(info.value)
    assert type(mapped) is errors.InvalidSignature and mapped.args_dict == {"index": 0}
