"""``computerails dashboard``: the network's web dashboard over the index."""

from __future__ import annotations

import click

from computerails.cli._common import Settings, cli


@cli.command("dashboard")
@click.option(
    "--db",
    required=True,
    help="The index `computerails index` writes: a SQLite file path, or a postgresql:// URL.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (127.0.0.1: this machine only).")
@click.option("--port", default=8780, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.pass_obj
def dashboard(settings: Settings, db: str, host: str, port: int) -> None:
    """Serve the dashboard: network, provider, client, job and transaction pages, and their JSON
    API (its OpenAPI schema at /openapi.json). Read-only; it stops on SIGTERM or Ctrl-C.

    The node (--rpc) is read once per token for its symbol and decimals; if it does not
    answer when first asked, or serves another chain than the index's, amounts show in smallest
    units."""
    from computerails.dashboard.app import DashboardSettings, create_app
    from computerails.service.serving import configure_logging, serve_app

    configure_logging()
    app = create_app(DashboardSettings(db=db, rpc=settings.rpc))
    serve_app(app, host=host, port=port, banner="dashboard", graceful_timeout=5)
