"""Helpers for tests with real libp2p hosts on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import trio

from node.network import (
    GossipMessage,
    NetworkConfig,
    NetworkHandlers,
    PeerNetwork,
    StaticPeer,
    Verdict,
    peer_id_from_seed,
    topic_name,
)
from node.network.api import RequestHandler

TOPIC = topic_name("00" * 32, "blocks")
WAIT = 10.0
"""Upper bound for any awaited network event; tests finish far sooner."""


@dataclass
class Member:
    seed: bytes = field(default_factory=lambda: os.urandom(32))

    @property
    def peer_id(self) -> str:
        return peer_id_from_seed(self.seed)


class Recorder:
    """Handlers that record what happened and let a test wait for it."""

    def __init__(self, verdict: Callable[[GossipMessage], Verdict] | None = None) -> None:
        self.verdict = verdict or (lambda _m: Verdict.ACCEPT)
        self.validated: list[GossipMessage] = []
        self.delivered: list[GossipMessage] = []
        self.connected: set[str] = set()
        self.disconnected: list[str] = []
        self.requests: dict[str, RequestHandler] = {}
        self._changed = trio.Event()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def validate(self, message: GossipMessage) -> Verdict:
        self.validated.append(message)
        self._poke()
        return self.verdict(message)

    async def deliver(self, message: GossipMessage) -> None:
        self.delivered.append(message)
        self._poke()

    async def on_connected(self, peer_id: str) -> None:
        self.connected.add(peer_id)
        self._poke()

    async def on_disconnected(self, peer_id: str) -> None:
        self.connected.discard(peer_id)
        self.disconnected.append(peer_id)
        self._poke()

    def handlers(self) -> NetworkHandlers:
        return NetworkHandlers(
            validate=self.validate,
            deliver=self.deliver,
            requests=self.requests,
            on_peer_connected=self.on_connected,
            on_peer_disconnected=self.on_disconnected,
        )

    async def wait_for(self, condition: Callable[[], bool], timeout: float = WAIT) -> None:
        with trio.fail_after(timeout):
            while not condition():
                await self._changed.wait()

    def delivered_data(self) -> list[bytes]:
        return [m.data for m in self.delivered]


def config_for(
    member: Member,
    members: list[Member],
    dial: Sequence[tuple[Member, PeerNetwork]] = (),
    **overrides: Any,
) -> NetworkConfig:
    static = tuple(StaticPeer(m.peer_id, (tcp_addr(net),)) for m, net in dial)
    config = NetworkConfig(
        identity_seed=member.seed,
        members=tuple(m.peer_id for m in members),
        topics=(TOPIC,),
        static_peers=static,
        dial_backoff_initial=0.1,
        dial_backoff_max=1.0,
    )
    return replace(config, **overrides) if overrides else config


def tcp_addr(net: PeerNetwork) -> str:
    """The listening TCP multiaddr without the ``/p2p/`` suffix."""
    return net.listen_addrs[0].split("/p2p/")[0]


@asynccontextmanager
async def running(
    nursery: trio.Nursery, config: NetworkConfig, recorder: Recorder
) -> AsyncIterator[PeerNetwork]:
    net = PeerNetwork(config, recorder.handlers())
    scope = trio.CancelScope()

    async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await net.run(task_status=task_status)

    await nursery.start(serve)
    try:
        yield net
    finally:
        scope.cancel()


async def publish_until(
    net: PeerNetwork, recorder: Recorder, data: bytes, attempts: int = 20
) -> None:
    """Publish ``data`` until ``recorder`` has it delivered: the first publish can race the
    subscription exchange, which gossip does not retry."""
    for attempt in range(attempts):
        payload = data + b"#" + str(attempt).encode()
        await net.publish(TOPIC, payload)
        with trio.move_on_after(0.5):
            await recorder.wait_for(lambda p=payload: p in recorder.delivered_data())  # type: ignore[misc]
            return
    raise AssertionError(f"{data!r} was never delivered")
