"""Gossipsub wired for Calpe: deliberate parameters, full validation before relay, no silent loss.

What this adds to py-libp2p 0.8.1's ``Pubsub``/``GossipSub`` and why:

- every inbound pubsub stream and every pushed message is wrapped, so a malformed RPC (e.g. a
  ``from`` field that is not a peer ID, which makes the signature check raise) is logged and the
  sender penalised instead of failing the pubsub service;
- accepted messages go to a bounded queue of ours (size from config) instead of the 32-slot
  subscription channel, and drops are counted;
- per-peer outbound queues are widened from 32 RPCs and their size check follows our maximum
  message size (both are fixed in the library; the attributes are pinned to 0.8.1);
- the validator runs the node's full validation and our per-forwarder rate limit; only ACCEPT
  relays, REJECT (and rate breaches) penalise the forwarder;
- messages are admitted per forwarder *before* py-libp2p starts a task for each one: it starts
  one task per received message, and starting a task walks the whole task tree, so a flood of
  messages would otherwise cost quadratic time and freeze the node before any rate limit ran;
- the router's check that a sender never gives one sequence number two contents remembers a
  digest of each message, not the message (see :class:`CalpeGossipSub`);
- each message is validated once: copies that neighbours relay while the first is still being
  validated are dropped (the library would validate them again), a refusal costs no formatting
  of the message, and a block is declined to the mesh (IDONTWANT) as soon as it arrives, so that
  in a full mesh it crosses each link about once instead of once per relaying neighbour;
- RPCs leave out the signed peer record py-libp2p attaches to each one (every receiver checked
  its signature), and yamux returns receive credit as go-yamux does (see ``node.network.host``).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, cast

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import AsyncValidatorFn, SyncValidatorFn
from libp2p.exceptions import ValidationError
from libp2p.peer.id import ID
from libp2p.pubsub.exceptions import NoPubsubAttached
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub, ValidationResult
from libp2p.pubsub.rpc_queue import RpcQueue

from node.network.api import GossipMessage, NetworkHandlers, Verdict
from node.network.config import KIB, GossipParams
from node.network.peers import PeerBook

logger = logging.getLogger(__name__)

RPC_ENVELOPE_SLACK = 64 * KIB
"""Room above the largest payload for the RPC framing, signature and signed peer record."""
_FORWARDER_MEMORY = 4096
"""Message ids whose forwarder we remember between validation and delivery."""

_CONTENT_MEMORY = 4096
"""Messages whose content digest the router keeps for its equivocation check (~0.5 MB)."""

_IDONTWANT_MEMORY = 512
"""Message ids a neighbour asked us not to send, kept per neighbour (for a few heartbeats)."""
_DECLINED_MEMORY = 4096
"""Message ids we sent IDONTWANT for on arrival (so the router does not send it again)."""
_IDONTWANT_HEARTBEATS = 3
"""Heartbeats an IDONTWANT is honoured for (go-libp2p's default)."""
EARLY_IDONTWANT_BYTES = 16 * KIB
"""Messages at least this large (blocks) are declined to the mesh as soon as they arrive."""

MAX_PENDING_PER_FORWARDER = 64
"""Received messages of one neighbour waiting for validation; more are dropped before py-libp2p
starts a task for them. 64 is ~3 s of one agency's blocks at full rate: an honest burst fits,
sync recovers anything dropped."""
_DROPS_PER_OFFENCE = 64

_reading_peer: contextvars.ContextVar[ID | None] = contextvars.ContextVar(
    "calpe_pubsub_reading_peer", default=None
)
"""The neighbour whose pubsub stream the current task reads (one reader task per stream)."""

Offence = Callable[[str, str], None]
"""``(peer_id, reason)``: record one offence of a peer."""


def message_id(msg: rpc_pb2.Message) -> bytes:
    """py-libp2p's default id (origin + seqno), which we keep: no hashing of large payloads."""
    return bytes(msg.from_id) + bytes(msg.seqno)


def _peer_str(raw: bytes) -> str:
    try:
        return ID(raw).to_base58()
    except Exception:
        return "?"


class CalpePubsub(Pubsub):
    """``Pubsub`` with contained failures, our delivery sink and widened outbound queues."""

    def __init__(
        self,
        host: IHost,
        router: CalpeGossipSub,
        params: GossipParams,
        topics: frozenset[str],
        sink: Callable[[rpc_pb2.Message], None],
        offence: Offence,
    ) -> None:
        super().__init__(
            host,
            router,
            seen_ttl=params.seen_ttl,
            strict_signing=True,
            max_concurrent_validator_count=params.max_concurrent_validations,
            validation_timeout=params.validation_timeout,
            max_inbound_rpc_size=params.max_message_size + RPC_ENVELOPE_SLACK,
            allowed_topics=topics,
        )
        self._params = params
        self._sink = sink
        self._offence = offence
        self._pending: Counter[ID] = Counter()
        self._dropped: Counter[ID] = Counter()
        self._gossip = router
        self._validating: set[bytes] = set()
        self.copies_dropped = 0
        """Copies of a message that arrived while it was being validated, dropped unvalidated."""

    async def continuously_read_stream(self, stream: INetStream) -> None:
        _reading_peer.set(stream.muxed_conn.peer_id)
        await super().continuously_read_stream(stream)

    def _is_subscribed_to_msg(self, msg: rpc_pb2.Message) -> bool:
        # Called by the reader for each received message right before it starts a task for it.
        if not super()._is_subscribed_to_msg(msg):
            return False
        peer = _reading_peer.get()
        if peer is None:
            return True
        if self._pending[peer] >= MAX_PENDING_PER_FORWARDER:
            self._dropped[peer] += 1
            if self._dropped[peer] % _DROPS_PER_OFFENCE == 1:
                logger.warning("gossip flood: dropping messages peer=%s", peer.to_base58())
                self._offence(peer.to_base58(), "gossip flood")
            return False
        self._pending[peer] += 1
        return True

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        try:
            self._sink(publish_message)
        except Exception:
            logger.exception("gossip delivery sink failed")

    async def stream_handler(self, stream: INetStream) -> None:
        try:
            await super().stream_handler(stream)
        except Exception as error:
            peer = stream.muxed_conn.peer_id
            logger.warning("pubsub stream failed: peer=%s error=%r", peer, error)
            self._offence(peer.to_base58(), "malformed pubsub stream")
            try:
                await stream.reset()
            except Exception:
                logger.debug("reset of failed pubsub stream failed", exc_info=True)

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        key = message_id(msg)
        if key in self._validating:
            # Every neighbour relays each message, and py-libp2p marks a message seen only once
            # it is valid: a copy arriving while the first is still validated would be validated
            # again (a block decoded, found a duplicate, and its forwarder scored down for it).
            self.copies_dropped += 1
            self._release(msg_forwarder)
            return
        self._validating.add(key)
        try:
            if msg_forwarder != self.my_id and len(msg.data) >= EARLY_IDONTWANT_BYTES:
                await self._gossip.decline_copies(key, msg.topicIDs)
            await super().push_msg(msg_forwarder, msg)
        except Exception as error:
            if msg_forwarder == self.my_id:
                raise
            logger.warning("dropped malformed gossip: peer=%s error=%r", msg_forwarder, error)
            self._offence(msg_forwarder.to_base58(), "malformed gossip message")
        finally:
            self._validating.discard(key)
            self._release(msg_forwarder)

    def _release(self, msg_forwarder: ID) -> None:
        """One message of ``msg_forwarder`` is no longer waiting (see ``_is_subscribed_to_msg``)."""
        if self._pending[msg_forwarder] > 0:
            self._pending[msg_forwarder] -= 1

    async def validate_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        """py-libp2p 0.8.1's validation (cached verdicts, a timeout, the concurrency limit),
        without the message in the error: the library formats the whole message, up to a MiB of
        block as protobuf text, into each ``ValidationError``, milliseconds of CPU for every
        message refused, which any neighbour could make us spend at will."""
        msg_id = self._msg_id_constructor(msg)
        cached = self.validation_cache.get(msg_id)
        if cached is not None:
            if not cached.is_valid:
                raise ValidationError(cached.error_message or "refused before")
            return
        error = await self._run_validators(msg_forwarder, msg)
        result = ValidationResult(
            is_valid=error is None, timestamp=time.time(), error_message=error
        )
        self.validation_cache.put(msg_id, result)
        if error is not None:
            raise ValidationError(error)

    async def _run_validators(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> str | None:
        """Why the topic validators refuse ``msg``, or None if they accept it."""
        with trio.move_on_after(self.validation_timeout):
            for topic_validator in self.get_msg_validators(msg):
                if not topic_validator.is_async:
                    accepted = cast(SyncValidatorFn, topic_validator.validator)(msg_forwarder, msg)
                else:
                    async with self._validator_semaphore:
                        validator = cast(AsyncValidatorFn, topic_validator.validator)
                        accepted = await validator(msg_forwarder, msg)
                if not accepted:
                    return "refused by the topic validator"
            return None
        return "validation timed out"

    async def handle_sending_messages(
        self, peer_id: ID, stream: INetStream, queue: RpcQueue
    ) -> None:
        # Pinned to py-libp2p 0.8.1: the queue is built with fixed defaults (32 RPCs, 1 MiB).
        queue._queue.max_size = self._params.outbound_queue_size
        queue.max_message_size = self._params.max_message_size + RPC_ENVELOPE_SLACK
        await super().handle_sending_messages(peer_id, stream, queue)

    async def write_msg(self, stream: INetStream, rpc_msg: rpc_pb2.RPC) -> bool:
        # py-libp2p attaches our signed peer record to every RPC, and every receiver checks its
        # signature: an Ed25519 verification per copy of each block. Members' addresses come
        # from genesis and configuration, not from these records, so gossip leaves them out.
        rpc_msg.ClearField("senderRecord")
        return await super().write_msg(stream, rpc_msg)

    def outbound_pressure(self) -> float:
        """The fullest peer queue's fill ratio (0 empty, 1 full)."""
        size = self._params.outbound_queue_size
        return max((len(queue) / size for queue in self.peer_queues.values()), default=0.0)


class CalpeGossipSub(GossipSub):
    """py-libp2p 0.8.1's GossipSub, with a bounded memory for its equivocation check.

    The library keeps every message it relays (up to 1,000, whole) to see whether a sender ever
    gives one sequence number two contents: 30 to 60 MiB of a node's memory at a few hundred
    500-event blocks, for a check that needs only which content came first. We keep a digest of
    each of the last :data:`_CONTENT_MEMORY` messages instead, and penalise the same way.

    It also sends IDONTWANT as soon as a block arrives and honours IDONTWANTs for a few
    heartbeats (:meth:`decline_copies`), and its control messages carry no peer record.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._contents: dict[bytes, bytes] = {}
        self._declined: dict[bytes, None] = {}
        self._heartbeats = 0
        self._declined_since: dict[ID, dict[bytes, int]] = {}

    def _prune_idontwant_entries(self) -> None:
        # py-libp2p forgets every IDONTWANT at each heartbeat, so a block still being validated
        # when one comes is then relayed to the neighbours that declined it. Kept for a few
        # heartbeats instead, as go-libp2p keeps them.
        self._heartbeats += 1
        now = self._heartbeats
        for peer in self._declined_since.keys() - self.dont_send_message_ids.keys():
            del self._declined_since[peer]
        for peer, declined in self.dont_send_message_ids.items():
            since = self._declined_since.setdefault(peer, {})
            for msg_id in declined:
                since.setdefault(msg_id, now)
            for msg_id in [
                m for m, heartbeat in since.items() if now - heartbeat >= _IDONTWANT_HEARTBEATS
            ]:
                del since[msg_id]
                declined.discard(msg_id)

    async def decline_copies(self, msg_id: bytes, topic_ids: Iterable[str]) -> None:
        """Tell mesh peers (IDONTWANT) that we have ``msg_id``, as soon as it arrives.

        py-libp2p 0.8.1 sends IDONTWANT only when it relays a message, after validation, by
        which time every neighbour has validated its own copy and relayed it to us too: in a
        full mesh each block then crosses every link, and each node reads, decrypts and parses
        it once per neighbour. Sent on arrival, before the block is validated (as gossipsub v1.2
        intends), it spares most of those copies.
        """
        await self._emit_idontwant_for_message(msg_id, topic_ids)

    async def _emit_idontwant_for_message(self, msg_id: bytes, topic_ids: Iterable[str]) -> None:
        if msg_id in self._declined:  # already sent on arrival
            return
        self._declined[msg_id] = None
        if len(self._declined) > _DECLINED_MEMORY:
            del self._declined[next(iter(self._declined))]
        await super()._emit_idontwant_for_message(msg_id, topic_ids)

    async def emit_control_message(self, control_msg: rpc_pb2.ControlMessage, to_peer: ID) -> None:
        # The library's, without our signed peer record (which CalpePubsub.write_msg drops
        # anyway): building it parses our addresses and serialises the record again for every
        # control message, four IDONTWANTs per block in a five-member mesh.
        if self.pubsub is None:
            raise NoPubsubAttached
        packet = rpc_pb2.RPC()
        packet.control.CopyFrom(control_msg)
        self.send_rpc(to_peer, packet, priority=True)

    def _check_equivocation(self, msg: rpc_pb2.Message) -> bool:
        key = msg.from_id + msg.seqno
        digest = content_digest(msg)
        first = self._contents.setdefault(key, digest)
        if first == digest:
            if len(self._contents) > _CONTENT_MEMORY:
                del self._contents[next(iter(self._contents))]
            return True
        logger.warning("gossip equivocation: peer %s reused a sequence number", ID(msg.from_id))
        if self.scorer is not None:
            self.scorer.penalize_equivocation(ID(msg.from_id), 100.0)
        return False


def content_digest(msg: rpc_pb2.Message) -> bytes:
    """SHA-256 over a message's topics and data: what equivocation compares."""
    digest = hashlib.sha256()
    for topic in msg.topicIDs:
        digest.update(topic.encode() + b"\0")
    digest.update(b"\1" + msg.data)
    return digest.digest()


def build_router(params: GossipParams) -> CalpeGossipSub:
    """Gossipsub v1.2/v1.1 with the parameters of :class:`GossipParams`."""
    return CalpeGossipSub(
        protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11],
        degree=params.degree,
        degree_low=params.degree_low,
        degree_high=params.degree_high,
        time_to_live=params.fanout_ttl,
        gossip_window=params.gossip_window,
        gossip_history=params.gossip_history,
        # At most this many IDONTWANTs kept per neighbour (the library's 10 is fewer than the
        # blocks a busy network gossips in one heartbeat).
        max_idontwant_messages=_IDONTWANT_MEMORY,
        heartbeat_initial_delay=0.1,
        heartbeat_interval=params.heartbeat_interval,
        # Members come from genesis: peer exchange could only suggest peers we would refuse.
        do_px=False,
        prune_back_off=params.prune_backoff,
        # Replaced by our per-forwarder limit (see GossipParams.peer_rate_per_second).
        spam_protection_enabled=False,
        # IP diversity means nothing in a permissioned mesh (members may share a data centre).
        eclipse_protection_enabled=False,
        # Self-tuning degree and heartbeat would make delivery latency unpredictable.
        adaptive_gossip_enabled=False,
    )


class ForwarderMemory:
    """Remembers who forwarded each accepted message until it is delivered (bounded)."""

    def __init__(self, capacity: int = _FORWARDER_MEMORY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, str] = OrderedDict()

    def put(self, key: bytes, forwarder: str) -> None:
        self._entries[key] = forwarder
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def pop(self, key: bytes) -> str | None:
        return self._entries.pop(key, None)


class GossipValidator:
    """The pubsub topic validator: rate limit, size, then the node's full validation."""

    def __init__(
        self,
        own_id: ID,
        handlers: NetworkHandlers,
        params: GossipParams,
        book: PeerBook,
        offence: Offence,
        forwarders: ForwarderMemory,
    ) -> None:
        self._own_id = own_id
        self._handlers = handlers
        self._params = params
        self._book = book
        self._offence = offence
        self._forwarders = forwarders

    async def __call__(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        if forwarder == self._own_id:
            return True  # our own publish: the node built it
        peer = forwarder.to_base58()
        try:
            verdict = await self._verdict(peer, msg)
        except Exception:
            logger.exception("gossip validator failed: peer=%s (counted as IGNORE)", peer)
            return False
        if verdict is Verdict.REJECT:
            self._offence(peer, "rejected gossip message")
        elif verdict is Verdict.ACCEPT:
            self._forwarders.put(message_id(msg), peer)
        return verdict is Verdict.ACCEPT

    async def _verdict(self, peer: str, msg: rpc_pb2.Message) -> Verdict:
        self._book.seen(peer)
        if not self._book.allow_gossip(peer):
            self._offence(peer, "gossip rate exceeded")
            return Verdict.IGNORE
        if len(msg.topicIDs) != 1 or len(msg.data) > self._params.max_message_size:
            return Verdict.REJECT
        message = GossipMessage(
            topic=msg.topicIDs[0],
            origin=_peer_str(msg.from_id),
            forwarder=peer,
            data=bytes(msg.data),
        )
        verdict = await self._handlers.validate(message)
        if not isinstance(verdict, Verdict):
            logger.error("gossip validator returned %r, not a Verdict: ignored", verdict)
            return Verdict.IGNORE
        return verdict


class DeliveryQueue:
    """Bounded hand-off from pubsub (synchronous) to the node's delivery callback."""

    def __init__(self, own_id: ID, size: int, forwarders: ForwarderMemory) -> None:
        self._own_id = own_id.to_bytes()
        self._forwarders = forwarders
        self._send, self.receive = trio.open_memory_channel[GossipMessage](size)
        self.dropped = 0

    def sink(self, msg: rpc_pb2.Message) -> None:
        key = message_id(msg)
        forwarder = self._forwarders.pop(key)
        if bytes(msg.from_id) == self._own_id or forwarder is None:
            return  # our own publish, or a message the validator did not accept
        message = GossipMessage(msg.topicIDs[0], _peer_str(msg.from_id), forwarder, msg.data)
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            self.dropped += 1
            logger.warning("delivery queue full: dropped gossip from=%s", message.origin)

    def close(self) -> None:
        self._send.close()
