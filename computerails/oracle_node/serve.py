"""Run an oracle node: ``computerails oracle serve --config oracle.toml`` or the
``computerails-oracle`` script. SIGTERM and SIGINT shut it down gracefully (exit code 0); a bad
configuration is one ``error:`` line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from fastapi import FastAPI

from computerails.addresses import parse_address
from computerails.errors import AgentConfigError
from computerails.oracle_node.app import create_app, every, probe_loop
from computerails.oracle_node.config import OracleSettings, load_settings
from computerails.oracle_node.metrics import NodeMetrics
from computerails.oracle_node.node import OracleNode
from computerails.oracle_node.probes import ProbeLog, Prober, probe_secret
from computerails.oracle_node.providers import ProviderDirectory
from computerails.oracle_node.rewards import RewardsDuty
from computerails.oracle_node.shopper import Shopper, shop_secret
from computerails.oracle_node.store import NodeStore
from computerails.rails import connect
from computerails.service.serving import configure_logging, run_command, serve_app

log = logging.getLogger("computerails.oracle")


def build_app(settings: OracleSettings) -> FastAPI:
    """The node's app as the settings describe it.

    Raises:
        AgentConfigError: the key is not one of the hub's oracles, or a setting does not fit.
        ComputeRailsError: the node or the deployment is unusable.
    """
    key = settings.private_key()
    rails = connect(settings.rpc_url, deployment=settings.deployment, account=key)
    me = rails.require_account().address
    oracles = set(rails.oracle.oracles())
    if me not in oracles:
        raise AgentConfigError(f"keystore: {me} is not an oracle of the hub at {rails.hub.address}")
    strangers = [p.address for p in settings.peers if p.address not in oracles]
    if strangers:
        log.warning("peers %s are not oracles of the hub (now): their messages will be refused", strangers)
    store = NodeStore(settings.database)
    probe_log = ProbeLog(settings.probe_database)
    directory = ProviderDirectory(rails, store=probe_log)
    secret = probe_secret(key)
    prober = Prober(
        directory,
        probe_log,
        secret=secret,
        chain_id=rails.chain_id,
        probes_per_epoch=settings.probes_per_epoch,
        probe_timeout=settings.probe_timeout,
        max_lateness=int(settings.max_lateness),
        min_probes=settings.min_probes,
    )
    rewards = None
    if settings.rewards.enabled and "RewardsDistributor" in rails.deployment.contracts:
        rewards = RewardsDuty(settings.rpc_url, rails, settings.data_dir, settings.rewards.page)
        log.info("rewards duty on: index %s, trees in %s", rewards.engine.url, rewards.trees)
    node = OracleNode(settings, rails, store, NodeMetrics(), uptime=prober, rewards=rewards)
    loops = [probe_loop(prober, directory, settings.probe_tick)]
    shopper = None
    if settings.shopper.enabled:
        token = settings.shopper.token
        if token is not None and token not in {parse_address(t) for t in rails.deployment.payment_tokens}:
            raise AgentConfigError(f"shopper.token: {token} is not a payment token of the deployment")
        shopper = Shopper(
            node,
            directory,
            settings.shopper,
            secret=shop_secret(secret),
            wallet=settings.shopper_wallet,
            private_key=key,
        )
        errors = node.metrics.errors
        loops.append(
            every(
                settings.shopper.tick,
                shopper.run_due,
                "shopper pass",
                lambda: errors.labels("shopper").inc(),
                on_exit=shopper.close,
            )
        )
        log.info("mystery shopper on: %d requests per provider and epoch", settings.shopper.requests_per_epoch)
    return create_app(node, loops, shopper=shopper)


def serve(settings: OracleSettings) -> None:
    """Serve until SIGTERM or SIGINT, then return."""
    app = build_app(settings)
    node: OracleNode = app.state.node
    serve_app(
        app,
        host=settings.host,
        port=settings.port,
        banner=f"oracle {node.me}",
        graceful_timeout=settings.graceful_timeout,
        logger=log,
    )


@click.command("computerails-oracle")
@click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), help="The node's TOML settings file."
)
def main_command(config: Path | None) -> None:
    """Run a ComputeRails oracle node (uptime probes, job and receipt checks, signature
    agreement with its peers, transmission)."""
    configure_logging()
    serve(load_settings(config))


def main(argv: list[str] | None = None) -> int:
    """The ``computerails-oracle`` script: one ``error:`` line on a configuration problem."""
    return run_command(main_command, argv, "computerails-oracle")


if __name__ == "__main__":
    sys.exit(main())
