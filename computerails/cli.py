"""``computerails`` command line: subcommands grouped by role.

Accounts come from a V3 keystore (``--keystore FILE``, or ``--account NAME`` for Ape's
``~/.ape/accounts/NAME.json``) with the password from ``$COMPUTERAILS_PASSWORD`` (or the
variable ``--password-env`` names) or a prompt; on devnets only, ``--private-key-env VAR``.
Failures print one line on stderr and exit non-zero; ``--json`` prints machine output.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from computerails.addresses import parse_address
from computerails.deployments import DEVNET_CHAIN_IDS, check_deployment, known_deployments, load_deployment
from computerails.errors import ComputeRailsError, InvalidAddress
from computerails.rails import ComputeRails, connect
from computerails.types import Attestation, Signature, UptimeReport

DEFAULT_RPC = "http://127.0.0.1:8545"

console = Console()


class CliError(click.ClickException):
    """A user mistake: printed as one line, exit code 1."""


class AddressType(click.ParamType):
    """An address option or argument, checked by :func:`~computerails.addresses.parse_address`
    while the command line is parsed: a mistyped address (wrong EIP-55 checksum) fails with
    one line before any key is unlocked or anything is sent."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_address(value)
        except InvalidAddress as exc:
            self.fail(str(exc), param, ctx)


ADDRESS = AddressType()


@dataclass
class Settings:
    rpc: str
    deployment: str | None
    keystore: str | None
    account: str | None
    password_env: str
    private_key_env: str | None
    as_json: bool
    yes: bool
    _rails: ComputeRails | None = None

    def rails(self, signer: bool = True) -> ComputeRails:
        if self._rails is None:
            key = self._key() if signer else None
            rails = connect(self.rpc, deployment=self.deployment, account=key)
            if self.private_key_env and rails.chain_id not in DEVNET_CHAIN_IDS:
                raise CliError(f"--private-key-env is for devnets only; chain {rails.chain_id} needs a keystore")
            self._rails = rails
        return self._rails

    def _key(self) -> Any:
        if self.private_key_env:
            value = os.environ.get(self.private_key_env)
            if not value:
                raise CliError(f"environment variable {self.private_key_env} is empty or unset")
            return value
        path = self._keystore_path()
        if path is None:
            raise CliError("no account: pass --keystore FILE, --account NAME or (devnets) --private-key-env VAR")
        try:
            keyfile = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CliError(f"cannot read keystore {path}: {exc}") from None
        password = os.environ.get(self.password_env)
        if password is None:
            password = click.prompt(f"Password for {path.name}", hide_input=True, err=True)
        try:
            return Account.decrypt(keyfile, password)
        except ValueError:
            raise CliError(f"wrong password for keystore {path}") from None

    def _keystore_path(self) -> Path | None:
        if self.keystore:
            return Path(self.keystore).expanduser()
        if self.account:
            return Path("~/.ape/accounts").expanduser() / f"{self.account}.json"
        return None

    def out(self, data: Any, human: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(_jsonable(data), indent=2, sort_keys=True))
        else:
            human()

    def confirm(self, question: str) -> None:
        if not self.yes and not click.confirm(question, default=False, err=True):
            raise CliError("aborted")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k.symbol if hasattr(k, "symbol") else k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _validation_message(exc: ValidationError) -> str:
    """A pydantic validation error on one line: ``field: problem; field: problem``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        cause = error.get("ctx", {}).get("error")  # the validator's own exception, e.g. InvalidAddress
        parts.append(f"{where}: {cause if cause is not None else error['msg']}")
    return "; ".join(parts)


def _table(title: str, rows: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(key, str(_jsonable(value)))
    console.print(table)


def _decimal(text: str, what: str) -> Decimal:
    """A token amount as typed by the user; refuses what Decimal cannot read or is not finite."""
    try:
        value = Decimal(text)
    except ArithmeticError:  # decimal.InvalidOperation
        raise CliError(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value.adjusted() > 77:  # beyond any uint256 amount
        raise CliError(f"{what} {text!r} is not a finite number of a token's size")
    return value


_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_deadline(text: str) -> datetime | timedelta | int:
    """``90m``/``2h``/``1d`` (from now), an ISO-8601 time with zone, or unix seconds."""
    match = _DURATION.match(text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return timedelta(**{unit: int(match.group(1))})
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"cannot read deadline {text!r}: use 2h, 1d, unix seconds or ISO-8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _hash32(text: str | None, file: str | None, what: str) -> bytes:
    if file:
        from eth_utils import keccak

        return keccak(Path(file).read_bytes())
    if not text:
        raise CliError(f"give --{what} (32-byte hex) or --{what.split('-')[0]}-file")
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise CliError(f"--{what} is not hex") from None
    if len(raw) != 32:
        raise CliError(f"--{what} must be 32 bytes, got {len(raw)}")
    return raw


# ───────────────────────────── root ─────────────────────────────


@click.group()
@click.option("--rpc", envvar="COMPUTERAILS_RPC", default=DEFAULT_RPC, show_default=True, help="Node RPC URL.")
@click.option(
    "--deployment",
    envvar="COMPUTERAILS_DEPLOYMENT",
    help="deployments/<chainId>.json or a chain id (default: the registry entry for the node's chain).",
)
@click.option("--keystore", type=click.Path(dir_okay=False), help="V3 keystore file.")
@click.option("--account", "account_name", help="Ape account alias: ~/.ape/accounts/NAME.json.")
@click.option(
    "--password-env",
    default="COMPUTERAILS_PASSWORD",
    show_default=True,
    help="Env var holding the keystore password (else prompt).",
)
@click.option("--private-key-env", help="Env var holding a raw private key (devnets only).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--yes", is_flag=True, help="Do not ask before irreversible actions.")
@click.version_option(package_name="computerails")
@click.pass_context
def cli(
    ctx: click.Context,
    rpc: str,
    deployment: str | None,
    keystore: str | None,
    account_name: str | None,
    password_env: str,
    private_key_env: str | None,
    as_json: bool,
    yes: bool,
) -> None:
    """ComputeRails: escrow, staking and oracle attestations for compute networks."""
    ctx.obj = Settings(rpc, deployment, keystore, account_name, password_env, private_key_env, as_json, yes)


# ───────────────────────────── client ─────────────────────────────


@cli.group()
def client() -> None:
    """Lock payment for jobs, cancel, reclaim, dispute, withdraw."""


@client.command("create-job")
@click.option("--provider", required=True, type=ADDRESS, help="Provider address.")
@click.option("--unit-price", required=True, help="Price per unit in token units, e.g. 0.10.")
@click.option("--max-units", required=True, type=click.IntRange(min=1))
@click.option("--deadline", default="2h", show_default=True, help="2h, 1d, unix seconds or ISO-8601.")
@click.option("--spec-hash", help="32-byte hex commitment to the workload.")
@click.option("--spec-file", type=click.Path(exists=True, dir_okay=False), help="Hash this file as the spec.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def client_create_job(
    s: Settings,
    provider: str,
    unit_price: str,
    max_units: int,
    deadline: str,
    spec_hash: str | None,
    spec_file: str | None,
    token: str | None,
) -> None:
    """Create a job and lock its escrow (approves or permits as needed)."""
    job = s.rails().client.create_job(
        provider,
        _decimal(unit_price, "--unit-price"),
        max_units,
        parse_deadline(deadline),
        _hash32(spec_hash, spec_file, "spec-hash"),
        token=token,
    )
    s.out(job, lambda: _table(f"Job {job.id} created", job.model_dump()))


@client.command("cancel")
@click.argument("job_id", type=int)
@click.pass_obj
def client_cancel(s: Settings, job_id: int) -> None:
    """Cancel a job its provider has not accepted."""
    s.confirm(f"Cancel job {job_id}?")
    job = s.rails().client.cancel(job_id)
    s.out(job, lambda: console.print(f"Job {job_id} cancelled; {job.escrow} {job.token.symbol} is withdrawable"))


@client.command("reclaim")
@click.argument("job_id", type=int)
@click.pass_obj
def client_reclaim(s: Settings, job_id: int) -> None:
    """Reclaim an accepted job whose deadline passed unattested."""
    job = s.rails().client.reclaim_expired(job_id)
    s.out(job, lambda: console.print(f"Job {job_id} expired; {job.escrow} {job.token.symbol} is withdrawable"))


@client.command("dispute")
@click.argument("job_id", type=int)
@click.pass_obj
def client_dispute(s: Settings, job_id: int) -> None:
    """Dispute a success attestation, posting the bond."""
    rails = s.rails()
    bond = rails.escrow.functions.disputeBondFor(job_id).call()
    s.confirm(f"Dispute job {job_id}, posting a bond of {bond} raw units?")
    job = rails.client.dispute(job_id)
    s.out(job, lambda: console.print(f"Job {job_id} disputed; bond {job.dispute_bond} {job.token.symbol}"))


@client.command("withdraw")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def client_withdraw(s: Settings, token: str | None) -> None:
    """Withdraw refunds (everything claimable in one token)."""
    payout = s.rails().client.withdraw(token)
    s.out(payout, lambda: console.print(f"Withdrew {payout.amount} {payout.token.symbol} ({payout.tx_hash})"))


@client.command("status")
@click.argument("job_id", type=int, required=False)
@click.pass_obj
def client_status(s: Settings, job_id: int | None) -> None:
    """One job, or all of this client's jobs."""
    rails = s.rails()
    if job_id is not None:
        job = rails.client.job(job_id)
        s.out(job, lambda: _table(f"Job {job_id}", job.model_dump()))
        return
    jobs = rails.client.jobs()

    def human() -> None:
        table = Table(title=f"Jobs of {rails.address}")
        for col in ("id", "status", "provider", "escrow", "units", "deadline"):
            table.add_column(col)
        for j in jobs:
            table.add_row(
                str(j.id),
                j.status.value,
                j.provider,
                f"{j.escrow} {j.token.symbol}",
                f"{j.units}/{j.max_units}",
                j.deadline.isoformat(),
            )
        console.print(table)

    s.out(jobs, human)


# ───────────────────────────── provider ─────────────────────────────


@cli.group()
def provider() -> None:
    """Register, stake, unbond, accept jobs, claim rewards."""


@provider.command("register")
@click.option("--metadata-uri", required=True, help="Where hardware, endpoint and GPU class are described.")
@click.option("--stake", required=True, help="First stake in staking-token units.")
@click.pass_obj
def provider_register(s: Settings, metadata_uri: str, stake: str) -> None:
    """Register as a provider with a first stake."""
    status = s.rails().provider.register(metadata_uri, _decimal(stake, "--stake"))
    s.out(status, lambda: _table("Registered", status.model_dump()))


@provider.command("stake")
@click.argument("amount")
@click.pass_obj
def provider_stake(s: Settings, amount: str) -> None:
    """Add stake."""
    status = s.rails().provider.stake(_decimal(amount, "amount"))
    s.out(status, lambda: console.print(f"Staked; active stake {status.staked}"))


@provider.command("unbond")
@click.argument("amount")
@click.pass_obj
def provider_unbond(s: Settings, amount: str) -> None:
    """Start unbonding free stake (it stays slashable until withdrawn)."""
    s.confirm(f"Unbond {amount}? A new request restarts the delay for everything unbonding.")
    status = s.rails().provider.request_unbond(_decimal(amount, "amount"))
    s.out(status, lambda: console.print(f"Unbonding {status.unbonding} until {status.unbonding_end}"))


@provider.command("withdraw")
@click.pass_obj
def provider_withdraw(s: Settings) -> None:
    """Withdraw unbonded stake after the delay."""
    payout = s.rails().provider.withdraw_unbonded()
    s.out(payout, lambda: console.print(f"Withdrew {payout.amount} {payout.token.symbol}"))


@provider.command("accept")
@click.argument("job_id", type=int)
@click.pass_obj
def provider_accept(s: Settings, job_id: int) -> None:
    """Accept a job, locking its collateral."""
    job = s.rails().provider.accept(job_id)
    s.out(job, lambda: console.print(f"Accepted job {job_id}; collateral {job.collateral} locked"))


@provider.command("unjail")
@click.pass_obj
def provider_unjail(s: Settings) -> None:
    """Leave jail once stake is back to the minimum."""
    status = s.rails().provider.unjail()
    s.out(status, lambda: console.print("Unjailed"))


@provider.command("leave")
@click.pass_obj
def provider_leave(s: Settings) -> None:
    """Stop taking new jobs for good (the uptime SLA ends with the current epoch)."""
    s.confirm("Leave the network for good? No new jobs can be accepted afterwards.")
    status = s.rails().provider.leave()
    s.out(status, lambda: console.print(f"{status.address} has left; unbond with `provider unbond` once jobs end"))


@provider.command("claim")
@click.pass_obj
def provider_claim(s: Settings) -> None:
    """Withdraw everything claimable (payments and slash proceeds)."""
    rails = s.rails()
    if s.as_json:
        payouts = rails.provider.claim_rewards()
    else:
        with Progress(console=console, transient=True) as progress:
            progress.add_task("Claiming rewards", total=None)
            payouts = rails.provider.claim_rewards()

    def human() -> None:
        if not payouts:
            console.print("Nothing to claim")
            return
        table = Table(title="Claimed")
        for col in ("token", "amount", "from", "tx"):
            table.add_column(col)
        for p in payouts:
            table.add_row(p.token.symbol, str(p.amount), p.source, p.tx_hash)
        console.print(table)

    s.out(payouts, human)


@provider.command("status")
@click.argument("address", required=False, type=ADDRESS)
@click.pass_obj
def provider_status(s: Settings, address: str | None) -> None:
    """Stake, locked, unbonding, jailed and claimable."""
    rails = s.rails(signer=address is None)
    status = rails.provider.status(address)
    s.out(status, lambda: _table(f"Provider {status.address}", status.model_dump()))


# ───────────────────────────── oracle ─────────────────────────────


@cli.group()
def oracle() -> None:
    """Sign and relay attestations and uptime reports."""


@oracle.command("sign")
@click.option("--job", "job_id", type=int, help="Sign a compute attestation for this job.")
@click.option("--success/--failure", default=True, help="Whether the result checked out.")
@click.option("--units", type=int, default=0, help="Units to pay for (success).")
@click.option("--result-hash", help="32-byte hex hash of the checked result.")
@click.option("--valid-for", default="1h", show_default=True, help="How long the signature stays valid.")
@click.option("--uptime-provider", type=ADDRESS, help="Sign an uptime report for this provider instead.")
@click.option("--epoch", type=int, help="Epoch of the uptime report.")
@click.option("--uptime-bps", type=click.IntRange(0, 10_000), help="Observed uptime in basis points.")
@click.option(
    "--relayer",
    type=ADDRESS,
    help="Uptime report: who earns the relayer reward (default: nobody, all to the treasury).",
)
@click.pass_obj
def oracle_sign(
    s: Settings,
    job_id: int | None,
    success: bool,
    units: int,
    result_hash: str | None,
    valid_for: str,
    uptime_provider: str | None,
    epoch: int | None,
    uptime_bps: int | None,
    relayer: str | None,
) -> None:
    """Sign an attestation (--job) or uptime report (--uptime-provider); prints JSON to relay."""
    rails = s.rails()
    if (job_id is None) == (uptime_provider is None):
        raise CliError("give either --job or --uptime-provider")
    if job_id is not None:
        duration = parse_deadline(valid_for)
        seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else 3_600
        job = rails.views.job(job_id)
        attestation = rails.oracle.prepare(
            Attestation(  # under the hub's current oracle configuration
                job_id=job_id,
                provider=job.provider,
                success=success,
                units=units,
                result_hash=_hash32(result_hash, None, "result-hash"),
                deadline=rails.now() + seconds,
            )
        )
        signature = rails.oracle.sign_attestation(attestation)
        statement: Attestation | UptimeReport = attestation
        kind = "attestation"
    else:
        if epoch is None or uptime_bps is None:
            raise CliError("an uptime report needs --epoch and --uptime-bps")
        report = rails.oracle.prepare(
            UptimeReport(
                provider=uptime_provider,
                epoch=epoch,
                uptime_bps=uptime_bps,
                **({"relayer": relayer} if relayer else {}),
            )
        )
        signature = rails.oracle.sign_uptime_report(report)
        statement = report
        kind = "uptime_report"
    click.echo(json.dumps({kind: _jsonable(statement), "signature": _jsonable(signature)}, indent=2))


def _load_signed(files: tuple[str, ...], kind: str) -> tuple[dict[str, Any], list[Signature]]:
    if not files:
        raise CliError("give one --signed FILE per oracle (the output of `computerails oracle sign`)")
    statements, signatures = [], []
    for file in files:
        try:
            data = json.loads(Path(file).read_text())
            statements.append(data[kind])
            signatures.append(Signature.model_validate(data["signature"]))
        except ValidationError as exc:
            raise CliError(f"{file} is not a signed {kind.replace('_', ' ')}: {_validation_message(exc)}") from None
        except (OSError, KeyError, ValueError) as exc:
            raise CliError(f"{file} is not a signed {kind.replace('_', ' ')}: {exc}") from None
    if any(st != statements[0] for st in statements):
        raise CliError("the signed files are over different statements")
    return statements[0], signatures


@oracle.command("attest")
@click.option(
    "--signed",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A signed attestation (repeat).",
)
@click.pass_obj
def oracle_attest(s: Settings, files: tuple[str, ...]) -> None:
    """Relay a quorum of signed attestations."""
    statement, signatures = _load_signed(files, "attestation")
    attestation = Attestation.model_validate(statement)
    sent = s.rails().oracle.submit_attestation(attestation, signatures)
    s.out(
        {"tx_hash": sent.tx_hash, "gas_used": sent.gas_used},
        lambda: console.print(f"Attestation for job {statement['job_id']} relayed ({sent.tx_hash})"),
    )


@oracle.command("report-uptime")
@click.option(
    "--signed",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A signed uptime report (repeat).",
)
@click.pass_obj
def oracle_report_uptime(s: Settings, files: tuple[str, ...]) -> None:
    """Relay a quorum of signed uptime reports."""
    statement, signatures = _load_signed(files, "uptime_report")
    report = UptimeReport.model_validate(statement)
    sent = s.rails().oracle.submit_uptime_report(report, signatures)
    s.out(
        {"tx_hash": sent.tx_hash, "gas_used": sent.gas_used},
        lambda: console.print(f"Uptime report for {statement['provider']} epoch {statement['epoch']} relayed"),
    )


# ───────────────────────────── deployments ─────────────────────────────


@cli.group()
def deployments() -> None:
    """Known deployments."""


@deployments.command("show")
@click.option("--chain-id", type=int, help="Show only this chain's deployment.")
@click.pass_obj
def deployments_show(s: Settings, chain_id: int | None) -> None:
    """Addresses and parameters of known deployments (or of --deployment)."""
    if s.deployment:
        found = {0: load_deployment(s.deployment)}
    else:
        found = known_deployments()
        if chain_id is not None:
            found = {chain_id: load_deployment(chain_id)}
    data = [d.model_dump(by_alias=True) for d in found.values()]

    def human() -> None:
        if not found:
            console.print("No deployments known: run `make deploy` or pass --deployment FILE")
        for d in found.values():
            _table(
                f"Chain {d.chain_id} ({d.source})",
                {
                    **d.contracts,
                    "staking token": d.staking_token,
                    "payment tokens": ", ".join(d.payment_tokens),
                    "deploy block": d.deploy_block,
                },
            )

    s.out(data, human)


@deployments.command("check")
@click.pass_obj
def deployments_check(s: Settings) -> None:
    """Check on chain that every contract holds the roles it needs (refunds, attestations and
    slashes depend on them), that governance sits behind the timelock, and the report window."""
    rails = s.rails(signer=False)
    contracts = {
        "ProviderStaking": rails.staking,
        "JobEscrow": rails.escrow,
        "UptimeSlasher": rails.slasher,
        "AttestationHub": rails.hub,
    }

    def read(contract: str, fn: str, args: tuple[Any, ...]) -> Any:
        return getattr(contracts[contract].functions, fn)(*args).call()

    results, problems = check_deployment(rails.deployment, read)
    data = {
        "ok": not problems,
        "problems": problems,
        "roles": [
            {
                "contract": r.contract,
                "role": r.role,
                "holder": r.holder,
                "holder_name": r.holder_name,
                "forbidden": r.forbidden,
                "ok": r.ok,
            }
            for r in results
        ],
    }

    def human() -> None:
        table = Table(title=f"Roles of chain {rails.chain_id}'s deployment")
        for column in ("contract", "role", "holder", "expected", "result"):
            table.add_column(column)
        for r in results:
            table.add_row(
                r.contract,
                r.role,
                f"{r.holder_name} {r.holder}",
                "none" if r.forbidden else "held",
                "ok" if r.ok else "[bold red]FAIL[/]",
            )
        console.print(table)
        console.print("Deployment check: " + ("[bold green]PASS[/]" if not problems else "[bold red]FAIL[/]"))

    s.out(data, human)
    if problems:
        raise CliError("deployment check failed: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    """Entry point: never shows a traceback for a user or protocol error."""
    try:
        cli.main(args=argv, prog_name="computerails", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code if exc.exit_code else 1
    except ComputeRailsError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        return 1
    except KeyError as exc:  # views.job() of an id that was never created
        click.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        return 1
    except ValidationError as exc:  # a statement or signature that is not valid (pydantic's text spans lines)
        click.echo(f"error: {exc.title}: {_validation_message(exc)}", err=True)
        return 1
    except (OSError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
