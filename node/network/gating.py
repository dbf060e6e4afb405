"""Connection gating: only member agencies may hold a connection, in either direction.

py-libp2p 0.8.1 has no peer-ID allow-list, so the check sits in the Noise transport, right after
the handshake has proven the remote's key: an unknown peer never reaches the muxer, identify or
pubsub. Noise is the only security transport offered, so a peer cannot claim another's ID.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from libp2p.abc import IRawConnection, ISecureConn
from libp2p.crypto.keys import KeyPair, PrivateKey
from libp2p.peer.id import ID
from libp2p.security.exceptions import HandshakeFailure
from libp2p.security.noise.transport import Transport as NoiseTransport

logger = logging.getLogger(__name__)


class MemberGate:
    """The live set of member peer IDs, minus peers banned for misbehaviour."""

    def __init__(self, members: Iterable[str]) -> None:
        self._members: frozenset[str] = frozenset(members)
        self._banned_until: dict[str, float] = {}

    @property
    def members(self) -> frozenset[str]:
        return self._members

    def set_members(self, members: Iterable[str]) -> frozenset[str]:
        """Replace the allow-list; returns the peer IDs that were removed."""
        new = frozenset(members)
        removed = self._members - new
        self._members = new
        return removed

    def ban(self, peer_id: str, seconds: float) -> None:
        self._banned_until[peer_id] = time.monotonic() + seconds

    def is_banned(self, peer_id: str) -> bool:
        until = self._banned_until.get(peer_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._banned_until[peer_id]
            return False
        return True

    def is_allowed(self, peer_id: str) -> bool:
        return peer_id in self._members and not self.is_banned(peer_id)


def _remote_address(conn: IRawConnection) -> str:
    try:
        address = conn.get_remote_address()
    except Exception:  # a half-closed socket may not answer; the log line still matters
        return "?"
    return "?" if address is None else f"{address[0]}:{address[1]}"


class GatedNoiseTransport(NoiseTransport):
    """Noise (XX) that refuses, after the handshake, any remote that is not an allowed member."""

    def __init__(self, key_pair: KeyPair, noise_private_key: PrivateKey, gate: MemberGate) -> None:
        super().__init__(key_pair, noise_privkey=noise_private_key)
        self._gate = gate

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        secure = await super().secure_inbound(conn)
        await self._admit(secure, conn, "inbound")
        return secure

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        secure = await super().secure_outbound(conn, peer_id)
        await self._admit(secure, conn, "outbound")
        return secure

    async def _admit(self, secure: ISecureConn, raw: IRawConnection, direction: str) -> None:
        remote = secure.get_remote_peer().to_base58()
        if self._gate.is_allowed(remote):
            return
        reason = "banned" if self._gate.is_banned(remote) else "not a member"
        logger.warning(
            "refused %s connection: peer=%s addr=%s reason=%s",
            direction,
            remote,
            _remote_address(raw),
            reason,
        )
        try:
            await secure.close()
        except Exception:  # closing a socket the peer already dropped
            logger.debug("closing refused connection failed", exc_info=True)
        raise HandshakeFailure(f"peer {remote} refused: {reason}")
