"""The dashboard written to disk: a static snapshot of every page (readable from ``file://``,
charts included), PNG plots of earnings and uptime (matplotlib), and, at the end of ``make demo``,
the whole round (:class:`DemoDashboard`): index the demo's chain and follow it, serve the
dashboard as a real process while the demo runs (its URL printed), then screenshot it in headless
Chromium, stop it, and write the snapshot and the plots."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from computerails.dashboard.models import ProviderPage
from computerails.dashboard.pages import STATIC_DIR, VENDOR_FILES, Links, render, vendor_dir
from computerails.dashboard.queries import IndexReader

ROOT_LINKS = Links(root="", suffix=".html")
#: Debian's Chromium (Playwright's own browser download cannot work offline), and flags that keep
#: it off the network and working as root in a container.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_LINKS = Links(root="../", suffix=".html")


def write_snapshot(reader: IndexReader, out: Path, node_modules: Path | None = None) -> list[Path]:
    """Every page as static HTML under `out`: ``index.html`` (the network), ``rewards.html``, ``provider/``,
    ``client/``, ``job/`` and ``tx/`` pages for everything the index holds that a page links to,
    with the stylesheet, script and Chart.js beside them. Returns the pages written."""
    vendor = vendor_dir(node_modules)
    shutil.copytree(STATIC_DIR, out / "static", dirs_exist_ok=True)
    (out / "vendor").mkdir(parents=True, exist_ok=True)
    for name, relative in VENDOR_FILES.items():
        shutil.copyfile(vendor / relative, out / "vendor" / name)

    written: list[Path] = []

    def page(path: Path, template: str, title: str, model: Any, links: Links) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template, model=model, title=title, links=links, api=""))
        written.append(path)

    network = reader.network()
    page(out / "index.html", "network.html", "Network", network, ROOT_LINKS)
    rewards = reader.rewards()
    page(out / "rewards.html", "rewards.html", "Rewards", rewards, ROOT_LINKS)
    txs: set[str] = {r.tx_hash for r in rewards.roots}
    for row in network.providers:
        provider = reader.provider(row.address)
        page(out / "provider" / f"{row.address}.html", "provider.html", f"Provider {row.address}", provider, PAGE_LINKS)
        txs.update(s.tx_hash for s in provider.slashes)
        txs.update(e.tx_hash for e in provider.earnings)
    for address in reader.clients():
        page(out / "client" / f"{address}.html", "client.html", f"Client {address}", reader.client(address), PAGE_LINKS)
    for job_id in reader.job_ids():
        job = reader.job(job_id)
        page(out / "job" / f"{job_id}.html", "job.html", f"Job {job_id}", job, PAGE_LINKS)
        txs.update(t.tx_hash for t in job.timeline)
    for tx_hash in sorted(txs):
        page(out / "tx" / f"{tx_hash}.html", "tx.html", f"Transaction {tx_hash}", reader.tx(tx_hash), PAGE_LINKS)
    return written


def write_plots(reader: IndexReader, out: Path) -> list[Path]:
    """``earnings.png`` (each provider's cumulative net earnings over time) and ``uptime.png``
    (uptime per provider per epoch as a heatmap) under `out`. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    providers: list[ProviderPage] = [reader.provider(p.address) for p in reader.network().providers]

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for p in providers:
        if p.earnings:
            times: Any = [e.time for e in p.earnings]  # matplotlib plots datetimes; its stubs say arrays
            ax.step(times, [float(e.cumulative) for e in p.earnings], where="post", label=f"{p.address[:10]}…")
    symbols = sorted({symbol for p in providers for symbol in p.earnings_total})
    ax.set_title("Provider earnings over time (cumulative, net of fees)")
    ax.set_ylabel(", ".join(symbols) or "earnings")
    ax.set_xlabel("chain time (UTC)")
    if any(p.earnings for p in providers):
        ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    earnings = out / "earnings.png"
    fig.savefig(earnings)
    plt.close(fig)

    epochs = sorted({u.epoch for p in providers for u in p.uptime})
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 + 0.7 * len(epochs)), 1.0 + 0.5 * max(len(providers), 1)), dpi=110)
    grid = [[float("nan")] * len(epochs) for _ in providers]
    for i, p in enumerate(providers):
        for u in p.uptime:
            grid[i][epochs.index(u.epoch)] = u.uptime_bps / 100
    image = ax.imshow(grid, cmap="RdYlGn", vmin=50, vmax=100, aspect="auto")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if value == value:  # not NaN: a report exists
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
    ax.set_yticks(range(len(providers)), [f"{p.address[:10]}…" for p in providers])
    ax.set_xlabel("epoch (blank: no report on that provider for that epoch)")
    ax.set_title("Uptime per epoch (%, as reported by the oracles)")
    fig.colorbar(image, ax=ax, label="uptime %")
    fig.tight_layout()
    uptime = out / "uptime.png"
    fig.savefig(uptime)
    plt.close(fig)
    return [earnings, uptime]


def screenshot(url: str, path: Path, wait_for: str = "canvas[data-drawn=true]") -> Path:
    """A screenshot of the page at `url` in headless Chromium (Debian's, driven by Playwright),
    taken once the page's charts are drawn."""
    from playwright.sync_api import sync_playwright

    path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            page.goto(url)
            page.wait_for_selector(wait_for)
            page.screenshot(path=str(path), full_page=True)
        finally:
            browser.close()
    return path


class DemoDashboard:
    """The dashboard beside ``make demo``, as a context manager around the demo's run.

    On entry: index the demo's chain (``out/index.db``), keep following it from a thread (no
    confirmations: the devnet does not reorganise), and serve the dashboard over it as a process
    of its own, its URL printed while the demo runs (its pid added to `pids`). :meth:`finish`,
    once the demo is done: index up to the head, screenshot the network and the busiest provider's
    pages in headless Chromium (the network page copied to `readme_screenshot` when given), stop
    the process, and write the static snapshot and the plots under `out`. Leaving the block stops
    whatever still runs.

    Args:
        rpc: the demo's node.
        deployment: its deployment file.
        out: where the index, the screenshots, the snapshot (``site/``) and the plots go.
        pids: the demo's record of the processes it started (a set; the dashboard's pid is added).
        log: prints a line for people.
    """

    def __init__(
        self,
        rpc: str,
        deployment: Path,
        out: Path,
        pids: set[int],
        log: Callable[[str], None] = print,
        readme_screenshot: Path | None = None,
    ) -> None:
        from computerails.dashboard.process import DashboardProcess

        self.rpc = rpc
        self.deployment = deployment
        self.out = out
        self.db = out / "index.db"
        self.pids = pids
        self.log = log
        self.readme_screenshot = readme_screenshot
        self.process = DashboardProcess(self.db, rpc, out / "dashboard.log")
        self.stop = threading.Event()
        self.follower: threading.Thread | None = None

    def __enter__(self) -> DemoDashboard:
        from computerails.deployments import load_deployment
        from computerails.indexer import Indexer, JsonRpc, index_until_head, open_index

        self.out.mkdir(parents=True, exist_ok=True)
        index_until_head(self.rpc, self.deployment, self.db)
        node, engine = JsonRpc(self.rpc), open_index(self.db)
        indexer = Indexer(node, load_deployment(self.deployment), engine)

        def follow() -> None:
            try:
                indexer.follow(self.stop, poll=1.0)
            finally:
                node.close()
                engine.dispose()

        self.follower = threading.Thread(target=follow, name="demo-indexer", daemon=True)
        self.follower.start()
        self.process.start()
        assert self.process.process is not None
        self.pids.add(self.process.process.pid)
        self.log(f"Dashboard: {self.process.url} (the index follows the chain into {self.db})")
        return self

    def _stop_following(self) -> None:
        self.stop.set()
        if self.follower is not None:
            self.follower.join()
            self.follower = None

    def finish(self) -> dict[str, Any]:
        """Index to the head, screenshot, stop the process, write the snapshot and the plots.

        Returns:
            what was written, for the demo's JSON report.
        """
        from computerails.indexer import index_until_head

        self._stop_following()
        stats = index_until_head(self.rpc, self.deployment, self.db)
        reader = IndexReader.open(self.db, self.rpc)
        network = reader.network()
        shot = screenshot(self.process.url + "/", self.out / "network.png")
        busiest = max(network.providers, key=lambda p: p.jobs, default=None)
        if busiest is not None:
            screenshot(f"{self.process.url}/provider/{busiest.address}", self.out / "provider.png")
        self.process.stop()
        if self.readme_screenshot is not None:
            self.readme_screenshot.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, self.readme_screenshot)
        pages = write_snapshot(reader, self.out / "site")
        plots = write_plots(reader, self.out)
        reader.engine.dispose()
        self.log(
            f"Dashboard snapshot: {self.out / 'site' / 'index.html'} ({len(pages)} pages); "
            f"plots: {', '.join(str(p) for p in plots)}"
        )
        return {
            "url": self.process.url,
            "indexed_to": network.head.block,
            "events_at_finish": stats.events,
            "snapshot": str(self.out / "site" / "index.html"),
            "pages": len(pages),
            "plots": [str(p) for p in plots],
            "screenshot": str(shot),
        }

    def __exit__(self, *exc: object) -> None:
        self._stop_following()
        self.process.stop()
