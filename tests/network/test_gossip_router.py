"""The router's equivocation memory: a digest per message, bounded, and the check still holds."""

from __future__ import annotations

import logging

import pytest
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

from node.network import gossip
from node.network.config import GossipParams
from node.network.gossip import build_router, content_digest

SENDER = b"\x00\x24\x08\x01\x12\x20" + bytes(range(32))


def message(seqno: int, data: bytes, topic: str = "calpe/blocks") -> rpc_pb2.Message:
    return rpc_pb2.Message(
        data=data, topicIDs=[topic], from_id=SENDER, seqno=seqno.to_bytes(8, "big")
    )


def test_same_content_again_passes_and_other_content_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = build_router(GossipParams())
    assert router._check_equivocation(message(1, b"block one"))
    assert router._check_equivocation(message(1, b"block one"))  # a duplicate, not a lie
    assert router._check_equivocation(message(2, b"block two"))
    with caplog.at_level(logging.WARNING, logger="node.network.gossip"):
        assert not router._check_equivocation(message(1, b"another block one"))
        assert not router._check_equivocation(message(2, b"block two", topic="calpe/other"))
    assert "reused a sequence number" in caplog.text


def test_keeps_digests_not_messages_and_forgets_the_oldest() -> None:
    router = build_router(GossipParams())
    limit = gossip._CONTENT_MEMORY
    for seqno in range(limit + 10):
        assert router._check_equivocation(message(seqno, bytes(60_000)))
    assert router.equivocation_detection == {}  # py-libp2p's store of whole messages is unused
    assert len(router._contents) == limit
    assert all(len(digest) == 32 for digest in router._contents.values())
    # The oldest ten are forgotten: their sequence numbers are no longer checked.
    assert router._check_equivocation(message(0, b"different"))
    assert not router._check_equivocation(message(limit + 9, b"different"))


def test_digest_covers_topics_and_data() -> None:
    base = content_digest(message(1, b"ab"))
    assert content_digest(message(7, b"ab")) == base  # seqno is the key, not the content
    assert content_digest(message(1, b"ab", topic="calpe/x")) != base
    assert content_digest(message(1, b"ab!")) != base


def test_idontwant_is_honoured_for_three_heartbeats() -> None:
    """py-libp2p forgets every IDONTWANT at each heartbeat; a block still being validated by then
    would be relayed to the neighbours that declined it."""
    router = build_router(GossipParams())
    peer = ID(SENDER)
    router.dont_send_message_ids[peer] = {b"first"}
    router._prune_idontwant_entries()  # heartbeat 1: "first" is noted
    router.dont_send_message_ids[peer].add(b"second")
    router._prune_idontwant_entries()  # 2: "second" is noted
    router._prune_idontwant_entries()  # 3
    assert router.dont_send_message_ids[peer] == {b"first", b"second"}
    router._prune_idontwant_entries()  # 4: three heartbeats after "first"
    assert router.dont_send_message_ids[peer] == {b"second"}
    router._prune_idontwant_entries()
    assert router.dont_send_message_ids[peer] == set()
    del router.dont_send_message_ids[peer]  # the peer left
    router._prune_idontwant_entries()
    assert router._declined_since == {}
