"""The README's "Run an oracle node" path, run as written: its shell block and its ``oracle.toml``
are taken from README.md and run as subprocesses in a fresh folder beside a devnet deployment.
The new key ends up an oracle of the hub (the configuration version moves on) and its node
serves as a member. Only what a test worker cannot share with a reader comes from the
environment: the node (``COMPUTERAILS_RPC``, ``COMPUTERAILS_ORACLE_RPC_URL``) and the port."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import tomllib

import computerails
from computerails import _http
from computerails.addresses import parse_address
from computerails.devnet import free_port
from tests.support.anvil import devnet_fixtures
from tests.support.readme import README, commands, reader_env, run_block, section_blocks, stop
from tests.support.wait import wait_until

SECTION = "## Run an oracle node"

# A devnet of its own: the README's commands add an oracle to the hub, which would change the
# quorum and the transmitter schedules of the suite's other tests.
ro_anvil, ro_deployment_file, ro_w3 = devnet_fixtures(scope="module", prefix="ro_")


def test_readme_run_an_oracle_node__three_commands__a_member_serving(ro_anvil, ro_deployment_file, tmp_path):
    blocks = section_blocks(README.read_text(), SECTION)
    assert [lang for lang, _ in blocks] == ["bash", "toml"], "the section's blocks changed shape"
    (_, shell), (_, oracle_toml) = blocks
    lines = commands(shell)
    exports = [line for line in lines if line.startswith("export ")]
    setup, serve = lines[len(exports) : -1], lines[-1]
    assert len(setup) + 1 == 3, "the README promises three commands"
    assert serve.startswith("computerails oracle serve --config oracle.toml")
    settings = tomllib.loads(oracle_toml)
    assert settings["peers"] == [] and settings["keystore"] == "oracle.json"

    (tmp_path / "deployments").mkdir()
    shutil.copy(ro_deployment_file, tmp_path / "deployments" / "31337.json")
    (tmp_path / "oracle.toml").write_text(oracle_toml)
    port = free_port()
    env = reader_env(
        tmp_path / "home",
        COMPUTERAILS_RPC=ro_anvil.url,
        COMPUTERAILS_ORACLE_RPC_URL=ro_anvil.url,
        COMPUTERAILS_ORACLE_PORT=str(port),
    )
    readonly = computerails.connect(ro_anvil.url, deployment=ro_deployment_file)
    before = readonly.views.oracle_set()
    prelude = "\n".join(exports)

    run_block(prelude + "\n" + "\n".join(setup), tmp_path, env)

    oracle = parse_address("0x" + json.loads((tmp_path / "oracle.json").read_text())["address"])
    after = readonly.views.oracle_set()
    assert after["oracles"] == before["oracles"] + [oracle]
    assert after["config_version"] == before["config_version"] + 1
    log = tmp_path / "oracle.log"
    with log.open("wb") as out:  # exec: the shell becomes the node, so this pid is the node's own
        node = subprocess.Popen(
            ["bash", "-c", f"{prelude}\nexec {serve}"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def health() -> dict | None:
            assert node.poll() is None, log.read_text()
            try:
                return _http.get(f"http://127.0.0.1:{port}/v1/health").json()
            except httpx.TransportError:
                return None

        answer = wait_until(health, "the node answering")
        assert (answer["oracle"], answer["member"]) == (oracle, True)
        assert (answer["config_version"], answer["threshold"]) == (after["config_version"], after["threshold"])
        assert stop(node) == 0, log.read_text()
    finally:
        stop(node)
