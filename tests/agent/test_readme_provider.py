"""The README's "Run a provider" path, run as written: its ``agent.toml`` and its shell blocks are
taken from README.md (so the two cannot drift) and run as subprocesses in a fresh folder beside a
devnet deployment, as a reader would run them in a checkout.

What the reader cannot share with a test worker is overridden from the environment, as the README
says every setting can be: the node (``COMPUTERAILS_RPC`` for the CLI, ``COMPUTERAILS_AGENT_RPC_URL``
for the agent), the agent's port (``COMPUTERAILS_AGENT_PORT``; the README's URLs to it follow), the
payer's wallet file, and a collection round every second that counts any value worth its gas, so
that one paid request is collected while the test waits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import httpx
import tomllib

from computerails import _http
from computerails.addresses import parse_address
from computerails.devnet import free_port
from tests.support.agent import READY_TIMEOUT
from tests.support.readme import README, commands, reader_env, run_block, section_blocks, stop

SECTION = "## Run a provider"
COLLECTED_TIMEOUT = 60  # seconds the agent's collection rounds get to mine one
MINED = 'computerails_agent_collections_total{status="mined"}'


def test_section_blocks__blocks_of_the_section_only():
    text = (
        "## A\n```bash\nno\n```\n## Run a provider\nx\n```toml\nk = 1\n```\n```bash\nls\n```\n## B\n```bash\nno\n```\n"
    )
    assert section_blocks(text, SECTION) == [("toml", "k = 1\n"), ("bash", "ls\n")]


def test_commands__comments_and_blank_lines_dropped():
    assert commands("# set up\nexport A=1\n\n  # more\nrun --x  # why\n") == ["export A=1", "run --x  # why"]


def _metric(url: str, sample: str) -> float:
    for line in _http.get(f"{url}/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the agent exited with {process.returncode}:\n{log.read_text()}"
        try:
            if _http.get(f"{url}/v1/health", params={"challenge": "0x" + "00" * 32}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # readiness polling
    raise AssertionError(f"the agent did not answer within {READY_TIMEOUT} s:\n{log.read_text()}")


def test_readme_run_a_provider__three_commands__agent_serves_and_earns(anvil, deployment_file, connect, tmp_path):
    blocks = section_blocks(README.read_text(), SECTION)
    assert [lang for lang, _ in blocks] == ["toml", "bash", "bash", "bash"], "the section's blocks changed shape"
    (_, agent_toml), (_, provider_block), (_, payer_block), (_, earnings_block) = blocks
    provider_lines = commands(provider_block)
    exports = [line for line in provider_lines if line.startswith("export ")]
    setup, serve = provider_lines[len(exports) : -1], provider_lines[-1]
    assert len(setup) + 1 == 3, "the README promises three commands"
    assert serve.startswith("computerails provider serve --config agent.toml")

    # The reader's checkout: the devnet's deployment file and the README's agent.toml.
    (tmp_path / "deployments").mkdir()
    shutil.copy(deployment_file, tmp_path / "deployments" / "31337.json")
    (tmp_path / "agent.toml").write_text(agent_toml)
    settings = tomllib.loads(agent_toml)
    readme_url = f"http://127.0.0.1:{settings['port']}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def here(block: str) -> str:
        """The block with the README's agent URL pointed at this test's agent."""
        assert readme_url in block, f"the block no longer talks to the agent.toml's port:\n{block}"
        return block.replace(readme_url, url)

    env = reader_env(
        tmp_path / "home",
        COMPUTERAILS_RPC=anvil.url,
        COMPUTERAILS_WALLET=str(tmp_path / "payments.sqlite"),
        COMPUTERAILS_AGENT_RPC_URL=anvil.url,
        COMPUTERAILS_AGENT_PORT=str(port),
        COMPUTERAILS_AGENT_COLLECT_INTERVAL="1",
        COMPUTERAILS_AGENT_MIN_VALUE_PER_GAS="0.000001",
    )
    prelude = "\n".join(exports)

    run_block(prelude + "\n" + "\n".join(setup), tmp_path, env)
    provider = parse_address("0x" + json.loads((tmp_path / "provider.json").read_text())["address"])
    readonly = connect()
    assert readonly.provider.status(provider).staked == Decimal(2000)
    funded = readonly.views.wallet(provider)

    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        # exec: the shell becomes the agent, so this pid is the agent's own.
        agent = subprocess.Popen(
            ["bash", "-c", f"{prelude}\nexec {serve}"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(agent, url, log)

        paid = run_block(here(payer_block), tmp_path, env)
        label, spent = paid.splitlines()[-1].split("  ", 1)
        assert (label, spent) == ("3", f"(request 1; spent {settings['price']} mUSD with {provider})"), paid

        deadline = time.monotonic() + COLLECTED_TIMEOUT
        while _metric(url, MINED) < 1:
            assert time.monotonic() < deadline, f"no collection mined within {COLLECTED_TIMEOUT} s:\n{log.read_text()}"
            assert agent.poll() is None, log.read_text()
            time.sleep(0.2)  # waiting for a collection round
        metered = readonly.deployment.contracts["MeteredEscrow"]
        token = readonly.deployment.payment_tokens[0]
        earned = readonly.read("MeteredEscrow", metered, "claimable", provider, token)
        assert 0 < earned < Decimal(settings["price"]) * 10**6  # the request's price net of the fee, on chain

        # In the payer's shell, as the README goes on (one password for both keystores there).
        payer_exports = [line for line in commands(payer_block) if line.startswith("export ")]
        shown = run_block("\n".join(payer_exports) + "\n" + here(earnings_block), tmp_path, env)
        assert "Nothing to collect" in shown and "metered" in shown and f"{MINED} 1.0" in shown, shown
        assert readonly.views.wallet(provider) == funded + Decimal(earned) / 10**6  # claimed to the wallet
        assert stop(agent) == 0, log.read_text()  # SIGTERM: graceful, exit 0
    finally:
        stop(agent)
