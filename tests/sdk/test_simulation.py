"""Calls the contract would reject are simulated first: the mapped ContractRevert is raised
with decoded arguments and no transaction is sent."""

from datetime import timedelta

from computerails import Attestation, JobStatus, errors
from tests.support.sdk import RESULT, SPEC, raises_unsent


def test_send__cancel_from_other_account__not_job_client_with_args(client_rails, other_client_rails, make_job):
    job = make_job()

    with raises_unsent(other_client_rails, errors.NotJobClient) as info:
        other_client_rails.send(other_client_rails.escrow.functions.cancel(job.id), "cancel")

    assert info.value.args_dict == {"expected": client_rails.address, "caller": other_client_rails.address}
    assert (info.value.expected, info.value.caller) == (client_rails.address, other_client_rails.address)
    assert "only the job's client may do this" in str(info.value)
    assert isinstance(info.value, errors.ContractRevert) and info.value.data.startswith("0x")
    assert client_rails.views.job_status(job.id) is JobStatus.OPEN


def test_send__cancel_accepted_job__unexpected_job_status_as_enums(client_rails, accepted_job):
    with raises_unsent(client_rails, errors.UnexpectedJobStatus) as info:
        client_rails.send(client_rails.escrow.functions.cancel(accepted_job.id), "cancel")

    assert info.value.args_dict == {"jobId": accepted_job.id, "expected": JobStatus.OPEN, "actual": JobStatus.ACCEPTED}
    assert str(info.value).startswith("UnexpectedJobStatus(jobId=1, expected=open, actual=accepted)")


def test_send__create_job_with_staking_token__token_not_allowed(client_rails, registered_provider, stk):
    fn = client_rails.escrow.functions.createJob(
        registered_provider.address, stk.address, 1, 1, client_rails.now() + 3_600, SPEC
    )
    with raises_unsent(client_rails, errors.TokenNotAllowed) as info:
        client_rails.send(fn, "createJob")
    assert info.value.args_dict == {"token": stk.address}


def test_send__create_job_without_allowance__erc20_insufficient_allowance(
    client_rails, registered_provider, faucet, usd
):
    faucet(client_rails, usd=10)
    fn = client_rails.escrow.functions.createJob(
        registered_provider.address, usd.address, 10**6, 10, client_rails.now() + 3_600, SPEC
    )
    with raises_unsent(client_rails, errors.ERC20InsufficientAllowance) as info:
        client_rails.send(fn, "createJob")
    assert info.value.args_dict == {"spender": client_rails.escrow.address, "allowance": 0, "needed": 10 * 10**6}
    assert client_rails.views.job_count() == 0


def test_send__attestation_with_one_signature__insufficient_signatures(relayer_rails, accepted_job, oracle_keys):
    att = Attestation(
        job_id=accepted_job.id,
        provider=accepted_job.provider,
        success=True,
        units=1,
        result_hash=RESULT,
        deadline=relayer_rails.now() + 600,
        config_version=1,
    )
    (sig,) = relayer_rails.oracle.collect_signatures(att, oracle_keys, k=1)
    with raises_unsent(relayer_rails, errors.InsufficientSignatures) as info:
        relayer_rails.send(relayer_rails.hub.functions.submitAttestation(att.as_tuple(), sig.raw), "submitAttestation")
    assert info.value.args_dict == {"required": 2, "provided": 1}


def test_send__accept_while_paused__enforced_pause(connect, registered_provider, make_job):
    job = make_job(deadline=timedelta(hours=3))
    governance = connect(0)
    governance.send(governance.escrow.functions.pause(), "pause")

    with raises_unsent(registered_provider, errors.EnforcedPause) as info:
        registered_provider.provider.accept(job.id)  # the SDK has no pause precondition: the simulation catches it

    assert info.value.args_dict == {}
    assert "the escrow is paused" in str(info.value)
