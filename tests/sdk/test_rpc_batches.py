"""computerails._rpc.Rpc.run splits a long request list into batches of at most MAX_BATCH and
returns every result in order (a node-free fake provider counts the round trips)."""

from __future__ import annotations

from types import SimpleNamespace

from computerails._rpc import Request, Rpc


class CountingProvider:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.singles = 0

    def make_request(self, method, params):
        self.singles += 1
        return {"jsonrpc": "2.0", "id": 1, "result": params[0]}

    def make_batch_request(self, calls):
        self.batches.append(len(calls))
        return [{"jsonrpc": "2.0", "id": i, "result": params[0]} for i, (_method, params) in enumerate(calls)]


def _rpc():
    provider = CountingProvider()
    return Rpc(SimpleNamespace(provider=provider), reads=True), provider


def test_run__more_than_max_batch__split_into_batches_results_in_order():
    rpc, provider = _rpc()
    n = 2 * Rpc.MAX_BATCH + 7

    results = rpc.run([Request("eth_echo", [i]) for i in range(n)])

    assert results == list(range(n))
    assert provider.batches == [Rpc.MAX_BATCH, Rpc.MAX_BATCH, 7] and provider.singles == 0


def test_run__at_most_max_batch__one_round_trip():
    rpc, provider = _rpc()

    assert rpc.run([Request("eth_echo", [i]) for i in range(Rpc.MAX_BATCH)]) == list(range(Rpc.MAX_BATCH))
    assert provider.batches == [Rpc.MAX_BATCH]


def test_run__no_requests__nothing_sent():
    rpc, provider = _rpc()

    assert rpc.run([]) == []
    assert provider.batches == [] and provider.singles == 0
