"""EIP-712: the hub's digests equal the SDK's hand-built ones and eth-account's generic encoder.

Three independent encodings must agree on every input: the contract (``attestationDigest``,
``uptimeReportDigest``, ``domainSeparator``), ``computerails.eip712`` (what oracles sign) and
eth-account's ``encode_typed_data`` over the full typed-data document (what wallets sign).
"""

from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computerails import eip712

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESSES = st.binary(min_size=20, max_size=20).map(to_checksum_address)
HASHES = st.binary(min_size=32, max_size=32)

# Views only, so sharing the session deployment across examples is safe.
DIGEST_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def eth_account_digest(primary_type: str, chain_id: int, hub_address: str, message: dict) -> bytes:
    signable = encode_typed_data(full_message=eip712.typed_data(primary_type, chain_id, hub_address, message))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def test_domain_separator__equals_sdk_and_eth_account(hub, chain):
    separator = eip712.domain_separator(chain.chain_id, hub.address)

    assert hub.domainSeparator() == separator
    # Version "2": the statements gained fields (configVersion, the report's relayer), so a
    # signature over the old encoding can never be read as one over the new.
    assert eip712.DOMAIN_VERSION == "2"
    assert hub.eip712Domain()[1:5] == (eip712.DOMAIN_NAME, "2", chain.chain_id, hub.address)
    # eth-account's header for typed data is exactly the domain separator.
    message = {"provider": hub.address, "epoch": 0, "uptimeBps": 0, "relayer": hub.address, "configVersion": 1}
    document = eip712.typed_data("UptimeReport", chain.chain_id, hub.address, message)
    assert encode_typed_data(full_message=document).header == separator


@DIGEST_SETTINGS
@given(
    job_id=UINT256,
    provider=ADDRESSES,
    success=st.booleans(),
    units=UINT256,
    result_hash=HASHES,
    deadline=UINT256,
    config_version=UINT256,
)
def test_attestation_digest__any_fields__three_encodings_agree(
    hub, chain, job_id, provider, success, units, result_hash, deadline, config_version
):
    attestation = (job_id, provider, success, units, result_hash, deadline, config_version)
    sdk = eip712.typed_digest(
        eip712.domain_separator(chain.chain_id, hub.address), eip712.attestation_struct_hash(*attestation)
    )
    fields = ("jobId", "provider", "success", "units", "resultHash", "deadline", "configVersion")
    message = dict(zip(fields, attestation))

    assert hub.attestationDigest(attestation) == sdk
    assert eth_account_digest("ComputeAttestation", chain.chain_id, hub.address, message) == sdk


@DIGEST_SETTINGS
@given(provider=ADDRESSES, epoch=UINT256, uptime_bps=UINT256, relayer=ADDRESSES, config_version=UINT256)
def test_uptime_report_digest__any_fields__three_encodings_agree(
    hub, chain, provider, epoch, uptime_bps, relayer, config_version
):
    report = (provider, epoch, uptime_bps, relayer, config_version)
    sdk = eip712.typed_digest(
        eip712.domain_separator(chain.chain_id, hub.address), eip712.uptime_report_struct_hash(*report)
    )
    message = dict(zip(("provider", "epoch", "uptimeBps", "relayer", "configVersion"), report))

    assert hub.uptimeReportDigest(report) == sdk
    assert eth_account_digest("UptimeReport", chain.chain_id, hub.address, message) == sdk


def test_typehashes__equal_sdk(hub):
    assert hub.ATTESTATION_TYPEHASH() == eip712.ATTESTATION_TYPEHASH
    assert hub.UPTIME_REPORT_TYPEHASH() == eip712.UPTIME_REPORT_TYPEHASH


def test_attestation_digest__other_hub_or_chain__differs(protocol, hub, chain, escrow):
    # The domain binds both the chain id and the hub's address.
    attestation = (1, escrow.address, True, 1, b"\x01" * 32, 2**40, hub.configVersion())
    here = hub.attestationDigest(attestation)

    assert protocol.attestation_digest(attestation) == here
    assert protocol.attestation_digest(attestation, chain_id=chain.chain_id + 1) != here
    assert protocol.attestation_digest(attestation, hub=escrow) != here
