"""ComputeRails: payment and staking rails for decentralized compute networks.

Quick start::

    import computerails
    rails = computerails.connect("http://127.0.0.1:8545", deployment="deployments/31337.json",
                                 account=private_key)
    job = rails.client.create_job(provider, unit_price="0.10", max_units=100,
                                  deadline=timedelta(hours=2), spec_hash=spec)

Ape is a build and test tool here: importing this package never imports it.
"""

from computerails import errors
from computerails.deployments import Deployment, load_deployment
from computerails.rails import ComputeRails, connect
from computerails.types import (
    Attestation,
    Dispute,
    Epochs,
    EscrowAccount,
    Job,
    JobStage,
    JobStatus,
    Payout,
    ProviderStatus,
    Raw,
    Runway,
    Settlement,
    Signature,
    SignerState,
    SignerStatus,
    UptimeOutcome,
    UptimeReport,
    VoucherPayment,
)

__version__ = "0.1.0"

__all__ = [
    "Attestation",
    "ComputeRails",
    "Deployment",
    "Dispute",
    "Epochs",
    "EscrowAccount",
    "Job",
    "JobStage",
    "JobStatus",
    "Payout",
    "ProviderStatus",
    "Raw",
    "Runway",
    "Settlement",
    "Signature",
    "SignerState",
    "SignerStatus",
    "UptimeOutcome",
    "UptimeReport",
    "VoucherPayment",
    "connect",
    "errors",
    "load_deployment",
]
