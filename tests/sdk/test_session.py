"""The connection's web3 contracts are built on first use: a connection that only reads through
the SDK's codecs, or asks a contract for its address, never pays web3's construction of every
function and event object."""

from eth_utils import to_checksum_address

from computerails.deployments import Deployment
from computerails.session import LazyContract


def test_connect__contracts_not_built__address_answered_without_building(readonly, deployment_file):
    deployment = Deployment.from_file(deployment_file)
    session = readonly._session
    for attribute, name in (
        ("staking", "ProviderStaking"),
        ("escrow", "JobEscrow"),
        ("hub", "AttestationHub"),
        ("slasher", "UptimeSlasher"),
    ):
        contract = getattr(session, attribute)
        assert isinstance(contract, LazyContract)
        assert contract.address == to_checksum_address(deployment.address(name))
        assert contract._built is None, attribute

    readonly.views.params()  # the SDK's reads go through its codecs, not web3's contracts
    assert session.escrow._built is None


def test_contract__first_use__built_once_and_answers_as_web3(readonly):
    escrow = readonly._session.escrow

    fee = escrow.functions.feeBps().call()

    built = escrow._built
    assert built is not None and built.address == escrow.address
    assert fee == readonly.views.params()["escrow"]["fee_bps"]
    assert escrow.functions is built.functions  # the same web3 contract from then on
    assert escrow.events.JobCreated is not None
    assert repr(escrow) == f"LazyContract(JobEscrow at {escrow.address})"
