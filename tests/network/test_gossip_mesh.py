"""A full mesh of three members: each message is validated once per node, and the copies that
neighbours relay are declined before they are sent, or dropped on arrival."""

from __future__ import annotations

import pytest
import trio

from node.network import GossipMessage, PeerNetwork, Verdict
from node.network.gossip import EARLY_IDONTWANT_BYTES, CalpePubsub
from tests.network.netutil import WAIT, Member, Recorder, config_for, running


class SlowRecorder(Recorder):
    """Takes ``delay`` seconds to validate, as a node busy with a block does."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def validate(self, message: GossipMessage) -> Verdict:
        await trio.sleep(self.delay)
        return await super().validate(message)


def _pubsub(net: PeerNetwork) -> CalpePubsub:
    pubsub = net._pubsub
    assert pubsub is not None
    return pubsub


async def _full_mesh(
    nets: dict[str, PeerNetwork], recorders: dict[str, Recorder], topic: str
) -> None:
    """Wait until every member has the two others connected and in its gossip mesh."""
    with trio.fail_after(WAIT):
        while True:
            meshes = [_pubsub(net)._gossip.mesh for net in nets.values()]
            if all(
                len(rec.connected) == 2 and len(mesh.get(topic, ())) == 2
                for rec, mesh in zip(recorders.values(), meshes, strict=True)
            ):
                return
            await trio.sleep(0.05)


@pytest.mark.trio
@pytest.mark.parametrize("size", [64, EARLY_IDONTWANT_BYTES])
async def test_a_slow_node_validates_each_message_once(size: int) -> None:
    """B validates slowly; C faster, and relays. A small message's relayed copy reaches B
    while B still validates and is dropped unvalidated; a block-sized one is declined on arrival
    (IDONTWANT), so C does not send it to B at all."""
    a, b, c = Member(), Member(), Member()
    members = [a, b, c]
    recorders: dict[str, Recorder] = {
        "a": Recorder(),
        "b": SlowRecorder(0.8),
        "c": SlowRecorder(0.2),
    }
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(a, members), recorders["a"]) as net_a,
            running(nursery, config_for(b, members, [(a, net_a)]), recorders["b"]) as net_b,
            running(
                nursery, config_for(c, members, [(a, net_a), (b, net_b)]), recorders["c"]
            ) as net_c,
        ):
            nets = {"a": net_a, "b": net_b, "c": net_c}
            topic = config_for(a, members).topics[0]
            await _full_mesh(nets, recorders, topic)

            sent = b"m" * size
            await net_a.publish(topic, sent)
            await recorders["b"].wait_for(lambda: sent in recorders["b"].delivered_data())
            validated_at_b = [m for m in recorders["b"].validated if m.data == sent]
            assert len(validated_at_b) == 1
            assert [m.forwarder for m in recorders["c"].validated if m.data == sent] == [a.peer_id]
            c_router = _pubsub(net_c)._gossip
            if size < EARLY_IDONTWANT_BYTES:
                assert _pubsub(net_b).copies_dropped >= 1
            else:
                assert _pubsub(net_b).copies_dropped == 0
                declined = c_router.dont_send_message_ids.get(_pubsub(net_b).my_id, set())
                assert declined  # B told C it had the block before C could relay it
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_a_refused_message_is_remembered_without_its_content() -> None:
    """py-libp2p would put the whole message, as protobuf text, into the refusal it caches."""
    a, b = Member(), Member()
    members = [a, b]
    rec_a, rec_b = Recorder(), Recorder(lambda _m: Verdict.IGNORE)
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(a, members), rec_a) as net_a,
            running(nursery, config_for(b, members, [(a, net_a)]), rec_b) as net_b,
        ):
            topic = config_for(a, members).topics[0]
            await rec_b.wait_for(lambda: a.peer_id in rec_b.connected)
            block = b"\x07" * EARLY_IDONTWANT_BYTES
            with trio.fail_after(WAIT):
                while not rec_b.validated:  # the first publish can race the subscriptions
                    await net_a.publish(topic, block)
                    await trio.sleep(0.2)
            verdicts = list(_pubsub(net_b).validation_cache.cache.values())
            assert verdicts
            assert all(not v.is_valid for v in verdicts)
            assert {v.error_message for v in verdicts} == {"refused by the topic validator"}
            assert rec_b.delivered == []
        nursery.cancel_scope.cancel()
