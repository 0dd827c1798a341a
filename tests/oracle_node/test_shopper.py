"""The mystery shopper's pure parts (docs/ORACLE_NETWORK.md, "Jobs and receipts"): the secret
schedule, the durable slots (claimed before paying, never shopped twice, an interrupted shop
closed on restart) and the ``[shopper]`` settings."""

from __future__ import annotations

import pytest

from computerails.devnet import dev_address, dev_key
from computerails.errors import AgentConfigError
from computerails.oracle_node.config import load_settings
from computerails.oracle_node.probes import probe_secret, probe_times
from computerails.oracle_node.shopper import ShopLog, ShopOutcome, ShopSlot, shop_secret, shop_times

CHAIN = 31337
START, LENGTH = 1_800_000_000, 3_600
PROVIDER = dev_address(12)


def secret_of(index: int) -> bytes:
    return shop_secret(probe_secret(bytes.fromhex(dev_key(index)[2:])))


def times(secret: bytes, epoch: int = 7, provider: str = PROVIDER, n: int = 6) -> list[int]:
    return shop_times(secret, CHAIN, epoch, provider, START, LENGTH, n)


def test_shop_times__reproducible_for_the_node__another_key_epoch_or_provider_differs():
    mine = times(secret_of(17))
    assert mine == times(secret_of(17))  # a restarted node computes the same moments
    assert all(START <= t < START + LENGTH for t in mine) and mine == sorted(set(mine))
    assert times(secret_of(18)) != mine  # another oracle's key: other moments
    assert times(secret_of(17), epoch=8) != mine
    assert times(secret_of(17), provider=dev_address(13)) != mine
    probe_moments = probe_times(probe_secret(bytes.fromhex(dev_key(17)[2:])), CHAIN, 7, PROVIDER, START, LENGTH, 6)
    assert probe_moments != mine  # shops are not at the probe moments


def test_shop_log__claimed_once__interrupted_shop_closed_on_restart_never_due_again(tmp_path):
    path = tmp_path / "shopper.sqlite"
    log = ShopLog(path)
    slots = [ShopSlot(t, 7, PROVIDER) for t in (START + 10, START + 20, START + 30)]
    assert log.plan(7, PROVIDER, [s.scheduled_at for s in slots]) == 3
    assert log.plan(7, PROVIDER, [s.scheduled_at for s in slots]) == 0
    assert log.due(START + 25, 1_000, 7) == slots[:2]
    assert log.claim(slots[0], 10_000) and not log.claim(slots[0], 10_000)
    assert log.finish(ShopOutcome(slots[0], "correct", 10_000))
    assert not log.finish(ShopOutcome(slots[0], "fraud", 10_000))  # one outcome per slot
    assert log.claim(slots[1], 10_000)  # and the node is killed here, maybe after paying
    log.close()

    log = ShopLog(path)  # the restart
    assert log.recover() == 1
    assert log.due(START + 100, 1_000, 7) == [slots[2]]
    assert not log.claim(slots[1], 10_000)
    assert log.committed(7) == 20_000  # the interrupted shop's reservation counts as spent
    summary = log.summary()[PROVIDER]
    assert (summary["correct"], summary["error"], summary["planned"], summary["spent"]) == (1, 1, 1, 20_000)
    assert log.due(START + 5_000, 1_000, 7) == []  # too late: missed, not shopped in a burst
    assert log.summary()[PROVIDER]["missed"] == 1
    log.close()


def test_shop_log__one_deposit_per_provider_and_token(tmp_path):
    log = ShopLog(tmp_path / "shopper.sqlite")
    token = dev_address(1)
    assert log.claim_deposit(PROVIDER, token, 7, 500)
    assert not log.claim_deposit(PROVIDER, token, 8, 500)
    assert log.committed(7) == 500 and log.committed(8) == 0
    log.close()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"budget": "0.1", "deposit": "1"}, "deposit: must not exceed budget"),
        ({"requests_per_epoch": 0}, "requests_per_epoch"),
        ({"token": "nope"}, "shopper.token"),
        ({"budget": "-1"}, "budget"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_shopper_settings__bad_values__one_line_config_error(tmp_path, section, problem):
    body = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in section.items())
    config = tmp_path / "oracle.toml"
    config.write_text(
        f'rpc_url = "http://127.0.0.1:8545"\ndeployment = "d.json"\nkeystore = "k.json"\n'
        f'data_dir = "{tmp_path}"\n\n[shopper]\nenabled = true\n{body}\n'.replace("'", '"')
    )
    with pytest.raises(AgentConfigError) as raised:
        load_settings(config)
    assert "\n" not in str(raised.value) and problem in str(raised.value)


def test_shopper_settings__off_by_default__wallet_in_the_data_dir(tmp_path):
    config = tmp_path / "oracle.toml"
    config.write_text(
        f'rpc_url = "http://127.0.0.1:8545"\ndeployment = "d.json"\nkeystore = "k.json"\ndata_dir = "{tmp_path}"\n'
    )
    settings = load_settings(config)
    assert not settings.shopper.enabled
    assert settings.shopper_wallet == tmp_path / "shopper.sqlite"
