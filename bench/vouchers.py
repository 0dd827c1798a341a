"""Voucher signing plus verification per second on one core (issue 12), against eth-account's
generic EIP-712 path in the same run.

* fast path: ``VoucherSigner.sign`` + ``VoucherDomain.verify`` (precomputed separator and type
  hash, hand-packed struct, pycryptodome keccak, coincurve);
* eth-account: ``encode_typed_data(full_message=...)`` + ``Account.sign_message`` +
  ``Account.recover_message`` compared with the signer's address;
* the whole request path, for reference: ``Meter.next`` (builds and validates the voucher
  model, then signs) + ``VoucherBook.accept`` (recovers, checks the signer and monotonicity).

Each side signs and verifies the same prebuilt vouchers, in alternating rounds (the order flips
every round) in one process and one thread; the figures are medians over the rounds. Nothing
here asserts a timing: the target (2,000 per second, aim 5,000) is printed beside the figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from computerails.vouchers import Meter, Voucher, VoucherBook, VoucherDomain, VoucherSigner

TARGET_PER_S = 2_000
AIM_PER_S = 5_000
KEY = b"\x5a" * 32
ESCROW = "0x" + "e5" * 20
PROVIDER = "0x" + "70" * 20
TOKEN = "0x" + "7e" * 20


def _vouchers(payer: str, n: int) -> list[Voucher]:
    return [
        Voucher(
            payer=payer,
            provider=PROVIDER,
            token=TOKEN,
            collection_id=b"\xc0" * 32,
            value_aggregate=1_000 * (i + 1),
            request_count=i + 1,
            timestamp=1_700_000_000 + i,
            metadata=i.to_bytes(32, "big"),
        )
        for i in range(n)
    ]


def measure(n: int = 1_000, rounds: int = 5) -> dict[str, Any]:
    """Sign-and-verify rates of the three paths over `rounds` alternating rounds of `n` each."""
    domain = VoucherDomain(31337, ESCROW)
    signer = VoucherSigner(domain, KEY)
    address = signer.address
    vouchers = _vouchers(address, n)

    def fast() -> None:
        for voucher in vouchers:
            if not domain.verify(voucher, signer.sign(voucher), address):
                raise AssertionError("fast path: signature does not verify")

    def eth_account() -> None:
        for voucher in vouchers:
            signable = encode_typed_data(full_message=domain.typed_data(voucher))
            signature = Account.sign_message(signable, KEY).signature
            if Account.recover_message(signable, signature=signature) != address:
                raise AssertionError("eth-account: signature does not verify")

    def meter_and_book() -> None:
        meter = Meter(signer, payer=address, provider=PROVIDER, token=TOKEN, budget=2**128 - 1)
        book = VoucherBook(domain, PROVIDER, {address: [address]})
        for _ in range(n):
            book.accept(*meter.next(1_000))

    sides: dict[str, Callable[[], None]] = {"fast": fast, "eth_account": eth_account, "meter_book": meter_and_book}
    per_round: list[dict[str, float]] = []
    names = list(sides)
    for r in range(rounds):
        spent: dict[str, float] = {}
        for name in names if r % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            sides[name]()
            spent[name] = time.perf_counter() - started
        per_round.append(spent)

    def rate(name: str) -> float:
        return round(statistics.median(n / t[name] for t in per_round), 1)

    result = {
        "n": n,
        "rounds": rounds,
        "fast_per_s": rate("fast"),
        "eth_account_per_s": rate("eth_account"),
        "meter_book_per_s": rate("meter_book"),
        "round_ratios": [round(t["eth_account"] / t["fast"], 2) for t in per_round],
        "median_ratio": round(statistics.median(t["eth_account"] / t["fast"] for t in per_round), 2),
        "target_per_s": TARGET_PER_S,
        "aim_per_s": AIM_PER_S,
    }
    print(
        f"vouchers: sign+verify {result['fast_per_s']:,.0f}/s (fast path), {result['eth_account_per_s']:,.0f}/s "
        f"(eth-account), {result['median_ratio']}x; Meter.next + VoucherBook.accept "
        f"{result['meter_book_per_s']:,.0f}/s; target {TARGET_PER_S:,}/s, aim {AIM_PER_S:,}/s",
        flush=True,
    )
    return result


def markdown(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "| Voucher path (one core) | Sign + verify per second | Speed-up |",
            "|---|---:|---:|",
            f"| eth-account: `encode_typed_data` + `sign_message` + `recover_message` | "
            f"{result['eth_account_per_s']:,.0f} | 1.0 |",
            f"| computerails.vouchers: `VoucherSigner.sign` + `VoucherDomain.verify` | {result['fast_per_s']:,.0f} | "
            f"{result['median_ratio']} |",
            f"| the request path: `Meter.next` + `VoucherBook.accept` (builds and checks the voucher too) | "
            f"{result['meter_book_per_s']:,.0f} | |",
            "",
            f"{result['n']:,} vouchers per side in each of {result['rounds']} alternating rounds, medians; target "
            f"{result['target_per_s']:,} per second (aim {result['aim_per_s']:,}).",
        ]
    )
