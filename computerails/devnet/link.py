"""A cuttable network link for devnet fault drills: a TCP relay process that forwards each
``listen port → target port`` pair on 127.0.0.1, and on ``SIGUSR1`` cuts every pair (open
connections are reset, new ones are accepted and closed at once: the peer sees its port
blocked) until ``SIGUSR2`` restores them. ``SIGTERM`` stops it.

    python -m computerails.devnet.link 9101:8801 9102:8802

The demo and the oracle network's tests route an oracle node's links to its peers through one
such process, so that "its link is cut" is a real refusal on the wire, without root or
firewall rules. The relay copies bytes; it knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("computerails.devnet.link")

CHUNK = 65_536


class Link:
    """The relay's state: whether it is cut, and the connections it carries."""

    def __init__(self) -> None:
        self.cut = False
        self.writers: set[asyncio.StreamWriter] = set()

    def set_cut(self, cut: bool) -> None:
        self.cut = cut
        log.info("link %s", "cut" if cut else "restored")
        if cut:
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int) -> None:
        if self.cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.writers -= {writer, up_writer}
            for w in (writer, up_writer):
                w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        writer.write_eof()


def _handler(
    link: Link, target: int
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await link.handle(reader, writer, target)

    return handle


async def serve(pairs: list[tuple[int, int]]) -> None:
    link = Link()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, link.set_cut, True)
    loop.add_signal_handler(signal.SIGUSR2, link.set_cut, False)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    servers = [await asyncio.start_server(_handler(link, target), "127.0.0.1", listen) for listen, target in pairs]
    log.info("relaying %s", ", ".join(f"{a}->{b}" for a, b in pairs))
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    link.set_cut(True)


def parse_pairs(args: list[str]) -> list[tuple[int, int]]:
    """``LISTEN:TARGET`` arguments as port pairs.

    Raises:
        ValueError: an argument is not two ports.
    """
    pairs = []
    for arg in args:
        listen, _, target = arg.partition(":")
        a, b = int(listen), int(target)
        if not (0 < a < 65_536 and 0 < b < 65_536):
            raise ValueError(f"{arg}: ports are 1..65535")
        pairs.append((a, b))
    if not pairs:
        raise ValueError("give at least one LISTEN:TARGET pair")
    return pairs


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        pairs = parse_pairs(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
