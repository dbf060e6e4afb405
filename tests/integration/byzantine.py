"""A Byzantine member agency and hostile outsiders, for adversarial tests against real nodes.

The test holds one member agency's real keystore (from the devnet directory) and never starts
that agency's node. It authors the agency's blocks with the pure ledger core on an in-memory state
(:class:`Chain`) and speaks libp2p *as* that agency through its own ``PeerNetwork``
(:class:`ByzantineMember`), so it can hand the honest nodes anything: valid blocks, forged ones,
floods, lies over sync. The crafting functions below build blocks that are valid except for one
rule each. Outsiders (:func:`dial_raw`) are bare py-libp2p hosts with whatever security the test
asks for.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import trio

# node.network first: it silences py-libp2p's import-time deprecation warning.
from node.network import (
    GossipMessage,
    GossipParams,
    NetworkConfig,
    NetworkHandlers,
    PeerNetwork,
    StaticPeer,
    Verdict,
    peer_id_from_ed25519_public,
    topic_name,
)

# isort: split
from libp2p import new_host
from libp2p.abc import IHost, ISecureTransport
from libp2p.crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from libp2p.crypto.ed25519 import create_new_key_pair as new_ed25519_key_pair
from libp2p.crypto.keys import KeyPair, PublicKey
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.validators import PUBSUB_SIGNING_PREFIX
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from multiaddr import Multiaddr

from node.config import load_config
from node.core.block import Block, BlockHeader, events_root
from node.core.events import CredentialClass, CredentialIssued, Event, SchemaPublished
from node.core.genesis import Genesis
from node.core.keys import AgencyKeys
from node.core.ledger import AgencyHead, AppliedBlock, author_block
from node.keyfiles import load_keystore
from node.services import sync_protocol as wire
from tests.core.memory_state import MemoryState
from tests.integration.cluster import Cluster, NodeProcess

T = TypeVar("T")
VALID_FROM_S = 1_700_000_000
Handler = Callable[[str, bytes], Any]
"""``async (peer_id, request) -> response``: what the Byzantine member answers on sync."""


def now_ms() -> int:
    return int(time.time() * 1000)


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


# --------------------------------------------------------------------------- authoring
class Chain:
    """One agency's log in memory, authored with the real ledger core."""

    def __init__(self, genesis: Genesis, agency_id: str, keys: AgencyKeys) -> None:
        agency = genesis.agency(agency_id)
        assert agency is not None, f"{agency_id} is not in genesis"
        self.genesis = genesis
        self.agency_id = agency_id
        self.keys = keys
        self.state = MemoryState(AgencyHead.initial(agency))
        self.blocks: list[bytes] = []
        """Every committed block, encoded; ``blocks[h - 1]`` is height ``h``."""

    @property
    def head(self) -> AgencyHead:
        return self.state.head

    def build(self, events: Sequence[Event], *, timestamp_ms: int | None = None) -> AppliedBlock:
        """The next valid block (not committed: build twice for an equivocation)."""
        return author_block(
            self.head,
            events,
            self.keys,
            self.state,
            network_id=self.genesis.network_id,
            timestamp_ms=now_ms() if timestamp_ms is None else timestamp_ms,
        )

    def append(self, events: Sequence[Event]) -> bytes:
        applied = self.build(events)
        self.state.commit(applied)
        self.blocks.append(applied.block.encode())
        return self.blocks[-1]

    def publish_schema(self, label: str) -> tuple[bytes, bytes]:
        """Commit a block publishing a schema; returns ``(schema_id, block_bytes)``."""
        schema_id = digest(f"{self.agency_id}/schema/{label}")
        return schema_id, self.append([SchemaPublished(schema_id, CredentialClass.PERMIT, 1)])


def issued(schema_id: bytes, label: str, count: int = 1) -> list[Event]:
    return [
        CredentialIssued(digest(f"{label}/{i}"), schema_id, VALID_FROM_S, None)
        for i in range(count)
    ]


def signed(keys: AgencyKeys, header: BlockHeader, events: Sequence[Event]) -> bytes:
    """Encode a block with ``header`` signed by ``keys`` (whatever the header claims)."""
    return Block(header, tuple(events), keys.sign_block_hash(header.hash())).encode()


def next_header(
    network_id: bytes,
    agency_id: str,
    height: int,
    prev_hash: bytes,
    events: Sequence[Event],
    state_root: bytes,
    timestamp_ms: int | None = None,
) -> BlockHeader:
    return BlockHeader(
        network_id=network_id,
        agency_id=agency_id,
        height=height,
        prev_hash=prev_hash,
        timestamp_ms=now_ms() if timestamp_ms is None else timestamp_ms,
        events_root=events_root(list(events)),
        state_root=state_root,
        event_count=len(events),
    )


def forged_for(
    chain: Chain, victim: dict[str, Any], signer: AgencyKeys | None = None, height: int = 0
) -> bytes:
    """The victim agency's next block (or the one at ``height``), built on its ``/v1/status``
    head and signed with ``signer`` (default: our own key, which is not the victim's)."""
    events = issued(digest("forged-schema"), f"forged/{victim['agency_id']}")
    header = next_header(
        chain.genesis.network_id,
        victim["agency_id"],
        height or victim["height"] + 1,
        bytes.fromhex(victim["block_hash"]),
        events,
        bytes.fromhex(victim["state_root"]),
    )
    return signed(signer or chain.keys, header, events)


def foreign_status_change(chain: Chain, event: Event) -> bytes:
    """Our next block carrying ``event`` (e.g. revoking another agency's credential), correctly
    signed. The state root is left unchanged: the validator refuses the event before it looks."""
    head = chain.head
    header = next_header(
        chain.genesis.network_id,
        chain.agency_id,
        head.height + 1,
        head.block_hash,
        [event],
        head.state_root,
    )
    return signed(chain.keys, header, [event])


def future_block(chain: Chain, events: Sequence[Event], ahead_ms: int = 3_600_000) -> bytes:
    """Our next block, valid in every way except a timestamp ``ahead_ms`` in the future."""
    return chain.build(events, timestamp_ms=now_ms() + ahead_ms).block.encode()


def oversized_block(chain: Chain, schema_id: bytes, min_bytes: int) -> bytes:
    """Our next block, signed, with enough events to encode to more than ``min_bytes``."""
    count = min_bytes // 60
    events = issued(schema_id, "oversized", count)
    head = chain.head
    header = next_header(
        chain.genesis.network_id,
        chain.agency_id,
        head.height + 1,
        head.block_hash,
        events,
        head.state_root,
    )
    data = signed(chain.keys, header, events)
    assert len(data) > min_bytes
    return data


# --------------------------------------------------------------------------- the member
class ByzantineMember:
    """A member agency whose keys the test holds, speaking libp2p as that agency.

    By default it serves its own chain honestly over sync; a test swaps ``serve_heads`` and
    ``serve_blocks`` (``async (peer_id, request) -> bytes``) to lie. Gossip it receives is
    recorded and IGNOREd (never relayed, never penalised).
    """

    def __init__(self, cluster: Cluster, index: int, gossip: GossipParams | None = None) -> None:
        node = cluster[index]
        config = load_config(node.config)
        self.agency_id, keys = load_keystore(config.node.keystore, config.passphrase())
        self.genesis = cluster.genesis
        self.chain = Chain(cluster.genesis, self.agency_id, keys)
        self.port = node.port
        self.gossip = gossip or GossipParams()
        self.blocks_topic = topic_name(cluster.genesis.network_id.hex(), "blocks")
        self.checkpoints_topic = topic_name(cluster.genesis.network_id.hex(), "checkpoints")
        self.serve_heads: Handler = self.honest_heads
        self.serve_blocks: Handler = self.honest_blocks
        self.received: list[GossipMessage] = []
        self.requests_served: list[tuple[str, str]] = []
        """``(peer_id, protocol)`` of every sync request answered."""
        self.network: PeerNetwork | None = None

    @property
    def peer_id(self) -> str:
        return peer_id_from_ed25519_public(self.chain.keys.ed25519_public)

    def members(self) -> tuple[str, ...]:
        return tuple(
            peer_id_from_ed25519_public(a.ed25519_public)
            for a in self.genesis.agencies
            if a.agency_id != self.agency_id
        )

    def network_config(self, dial: Sequence[NodeProcess]) -> NetworkConfig:
        return NetworkConfig(
            identity_seed=self.chain.keys.ed25519_seed,
            members=self.members(),
            topics=(self.blocks_topic, self.checkpoints_topic),
            listen_addrs=(f"/ip4/127.0.0.1/tcp/{self.port}",),
            static_peers=tuple(
                StaticPeer(self.node_peer_id(n), (f"/ip4/127.0.0.1/tcp/{n.port}",)) for n in dial
            ),
            gossip=self.gossip,
            dial_backoff_initial=0.1,
            dial_backoff_max=1.0,
        )

    def node_peer_id(self, node: NodeProcess) -> str:
        agency = self.genesis.agency(node.agency_id)
        assert agency is not None
        return peer_id_from_ed25519_public(agency.ed25519_public)

    @asynccontextmanager
    async def running(
        self, nursery: trio.Nursery, dial: Sequence[NodeProcess]
    ) -> AsyncIterator[PeerNetwork]:
        """Run the member's network (listening on its agency's configured port) while inside."""
        handlers = NetworkHandlers(
            validate=self._validate,
            deliver=self._deliver,
            requests={
                wire.HEADS_PROTOCOL: self._heads,
                wire.BLOCKS_PROTOCOL: self._blocks,
            },
        )
        network = PeerNetwork(self.network_config(dial), handlers)
        scope = trio.CancelScope()

        async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await network.run(task_status=task_status)

        await nursery.start(serve)
        self.network = network
        try:
            yield network
        finally:
            self.network = None
            scope.cancel()

    async def publish(self, data: bytes) -> None:
        assert self.network is not None, "the member's network is not running"
        await self.network.publish(self.blocks_topic, data)

    async def flood(self, data: bytes, count: int, per_rpc: int = 100) -> None:
        """Send ``count`` copies of ``data`` as distinct, correctly signed gossip messages, packed
        ``per_rpc`` to an RPC and written straight to each peer's pubsub stream.

        One publish per message (``PeerNetwork.publish``) runs at a few hundred messages a
        second on a busy machine, about the honest nodes' per-peer limit, so a real flooder
        packs them. Reaches into py-libp2p 0.8.1's ``Pubsub`` (``peers``, ``write_msg``).
        """
        assert self.network is not None, "the member's network is not running"
        pubsub = self.network._pubsub  # a flooder bypasses the polite API
        assert pubsub is not None
        key = pubsub.host.get_public_key().serialize()
        for _ in range(0, count, per_rpc):
            rpc = rpc_pb2.RPC(publish=[self._signed(pubsub, data, key) for _ in range(per_rpc)])
            for stream in list(pubsub.peers.values()):
                await pubsub.write_msg(stream, rpc)
            await trio.lowlevel.checkpoint()

    def _signed(self, pubsub: Any, data: bytes, key: bytes) -> rpc_pb2.Message:
        msg = rpc_pb2.Message(
            data=data,
            topicIDs=[self.blocks_topic],
            from_id=pubsub.my_id.to_bytes(),
            seqno=pubsub._next_seqno(),
        )
        msg.signature = pubsub.sign_key.sign(
            PUBSUB_SIGNING_PREFIX.encode() + msg.SerializeToString()
        )
        msg.key = key
        return msg

    # -- default (honest) sync answers ------------------------------------------------------
    async def honest_heads(self, _peer: str, _request: bytes) -> bytes:
        head = self.chain.head
        return wire.encode_heads({self.agency_id: (head.height, head.block_hash)})

    async def honest_blocks(self, _peer: str, request: bytes) -> bytes:
        agency, start, count = wire.decode_blocks_request(request)
        if agency != self.agency_id or start < 1:
            return wire.encode_blocks([])
        return wire.encode_blocks(self.chain.blocks[start - 1 : start - 1 + count])

    async def _heads(self, peer: str, request: bytes) -> bytes:
        self.requests_served.append((peer, wire.HEADS_PROTOCOL))
        data: bytes = await self.serve_heads(peer, request)
        return data

    async def _blocks(self, peer: str, request: bytes) -> bytes:
        self.requests_served.append((peer, wire.BLOCKS_PROTOCOL))
        data: bytes = await self.serve_blocks(peer, request)
        return data

    async def _validate(self, message: GossipMessage) -> Verdict:
        self.received.append(message)
        return Verdict.IGNORE

    async def _deliver(self, message: GossipMessage) -> None:
        return None


# --------------------------------------------------------------------------- outsiders
class ImpostorKey(Ed25519PrivateKey):
    """A fresh Ed25519 private key that *claims* another key's public half.

    py-libp2p's Noise handshake sends ``private_key.get_public_key()`` with a signature by the
    private key, so a host built on this key presents the victim's peer ID without its key.
    """

    def __init__(self, claimed: PublicKey) -> None:
        super().__init__(Ed25519PrivateKey.new().impl)
        self._claimed = claimed

    def get_public_key(self) -> PublicKey:
        return self._claimed


def impostor_key_pair(victim_public: bytes) -> KeyPair:
    """A key pair presenting ``victim_public`` (a raw Ed25519 key) without its private half."""
    claimed = Ed25519PublicKey.from_bytes(victim_public)
    return KeyPair(ImpostorKey(claimed), claimed)


def plaintext_only(key_pair: KeyPair) -> dict[TProtocol, ISecureTransport]:
    """Security options of a peer that speaks nothing but ``/plaintext/2.0.0``."""
    return {PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)}


def noise_only(key_pair: KeyPair) -> dict[TProtocol, ISecureTransport]:
    noise = NoiseTransport(key_pair, noise_privkey=new_x25519_key_pair().private_key)
    return {NOISE_PROTOCOL_ID: noise}


def fresh_key_pair() -> KeyPair:
    return new_ed25519_key_pair()


async def dial_raw(
    key_pair: KeyPair,
    security: dict[TProtocol, ISecureTransport],
    target_peer_id: str,
    target_addr: str,
    timeout: float = 10.0,
) -> Exception | None:
    """Dial ``target`` from a bare py-libp2p host (TCP, yamux, ``security``); the error the
    dial ended with, or None if a connection was established."""
    host: IHost = new_host(
        key_pair=key_pair,
        sec_opt=security,
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
    )
    target = PeerInfo(ID.from_base58(target_peer_id), [Multiaddr(target_addr)])
    outcome: Exception | None = None
    async with host.run([Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        try:
            with trio.fail_after(timeout):
                await host.connect(target)
        except Exception as exc:  # any failure is the expected outcome here
            outcome = exc
        await host.close()
    return outcome


# --------------------------------------------------------------------------- observing
async def poll(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Await a truthy ``predicate()`` (run in a thread: it may do blocking HTTP)."""
    deadline = trio.current_time() + timeout
    last_error: Exception | None = None
    while trio.current_time() < deadline:
        try:
            value = await trio.to_thread.run_sync(predicate)
            if value:
                return value
        except (httpx.HTTPError, OSError, KeyError) as exc:
            last_error = exc
        await trio.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last_error})")


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await trio.to_thread.run_sync(fn, *args)


def status(node: NodeProcess) -> dict[str, Any]:
    result: dict[str, Any] = node.get("/v1/status")
    return result


def peer_view(node: NodeProcess, agency_id: str) -> dict[str, Any]:
    """The ``peers`` entry of ``agency_id`` in ``node``'s status."""
    peers = {p["agency_id"]: p for p in status(node)["peers"]}
    return dict(peers[agency_id])


def alerts(node: NodeProcess, kind: str, containing: str = "") -> list[dict[str, Any]]:
    return [a for a in status(node)["alerts"] if a["kind"] == kind and containing in a["message"]]


def log_has(node: NodeProcess, *fragments: str) -> bool:
    """A line of the node's process log contains every fragment."""
    text = node.log_path.read_text(errors="replace")
    return any(all(f in line for f in fragments) for line in text.splitlines())
