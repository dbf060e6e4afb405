"""New signer sets for the checkpoint contract, co-signed by the set it holds now.

When a folded checkpoint changes the active members' addresses or the quorum, the governance's
``signer_nonce`` grows by one. The contract accepts the new set through ``changeSigners(signers,
threshold, signatures)``, signed as EIP-712 ``SignerSetChange`` with the contract's current nonce
by a quorum of its current signers — the members before the change. Each such member signs as
soon as it has folded the checkpoint and gossips its signature on the ``governance`` topic; every
node keeps the signatures (store cursors, so a restart loses nothing) and any node's RSK bridge
may relay the transaction once a quorum is in (:meth:`SignerChanges.ready`). A node re-publishes
its own signature until it has seen a quorum, because gossip is lossy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import trio

from node.core import eip712
from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import CalpeError, SignatureError
from node.core.governance import Governance
from node.network import GossipMessage, Verdict
from node.services.checkpoints import CheckpointService, Publish
from node.services.store_access import StoreAccess

log = logging.getLogger(__name__)

_CURSOR = "governance.signer_change.{nonce}"


@dataclass
class SignerChange:
    """The change from the contract's set at ``nonce`` to ``signers``/``threshold``."""

    nonce: int
    signers: list[bytes]
    threshold: int
    old_addresses: dict[str, bytes]
    """Agency -> address of the set the contract holds at ``nonce`` (who may sign)."""
    old_quorum: int
    signatures: dict[str, bytes] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.signatures) >= self.old_quorum

    def encode(self) -> bytes:
        return encode(
            [
                1,
                self.nonce,
                self.signers,
                self.threshold,
                sorted([a, addr] for a, addr in self.old_addresses.items()),
                self.old_quorum,
                sorted([a, s] for a, s in self.signatures.items()),
            ]
        )


def decode_change(data: bytes) -> SignerChange:
    items = as_list(decode(data), "signer change", 7)
    expect_version(items[0], "signer change")
    return SignerChange(
        as_uint(items[1], "nonce"),
        [as_bytes(a, "signer", 20) for a in as_list(items[2], "signers")],
        as_uint(items[3], "threshold", maximum=255),
        {
            as_text(a, "agency", 32): as_bytes(addr, "address", 20)
            for a, addr in (as_list(p, "old signer", 2) for p in as_list(items[4], "old"))
        },
        as_uint(items[5], "old_quorum", maximum=255),
        {
            as_text(a, "agency", 32): as_bytes(sig, "signature", 65)
            for a, sig in (as_list(p, "signature", 2) for p in as_list(items[6], "sigs"))
        },
    )


def encode_vote(nonce: int, signer: str, signature: bytes) -> bytes:
    return encode([1, nonce, signer, signature])


def decode_vote(data: bytes) -> tuple[int, str, bytes]:
    items = as_list(decode(data, max_bytes=512), "signer-change vote", 4)
    expect_version(items[0], "signer-change vote")
    return (
        as_uint(items[1], "nonce"),
        as_text(items[2], "signer", 32),
        as_bytes(items[3], "signature", 65),
    )


class SignerChanges:
    def __init__(
        self,
        store: StoreAccess,
        agency_id: str,
        checkpoints: CheckpointService,
        *,
        publish: Publish,
        rebroadcast_s: float = 3.0,
    ) -> None:
        self._store = store
        self.agency_id = agency_id
        self._checkpoints = checkpoints
        self._publish = publish
        self._rebroadcast_s = rebroadcast_s
        self._changes: dict[int, SignerChange] = {}
        self._dirty = trio.Event()

    def _digest(self, change: SignerChange) -> bytes:
        checkpoints = self._checkpoints
        assert checkpoints.contract is not None
        return eip712.signer_change_digest(
            checkpoints.genesis.rsk_chain_id,
            checkpoints.contract,
            ["0x" + a.hex() for a in change.signers],
            change.threshold,
            change.nonce,
        )

    # --- from governance ----------------------------------------------------------------------

    def on_governance(self, before: Governance, after: Governance) -> None:
        """Called when a checkpoint is folded: start collecting if the signer set changed."""
        if after.signer_nonce == before.signer_nonce or not self._checkpoints.enabled:
            return
        nonce = before.signer_nonce
        stored = self._store.store.cursor(_CURSOR.format(nonce=nonce))
        change = decode_change(stored) if stored else None
        if change is None:
            change = SignerChange(
                nonce,
                after.signers(),
                after.quorum,
                {m.agency_id: m.secp256k1_address for m in before.active},
                before.quorum,
            )
        self._changes[nonce] = change
        member = before.member(self.agency_id)
        key = self._checkpoints.signing_key_for(member.secp256k1_address) if member else None
        if key is not None and self.agency_id not in change.signatures:
            change.signatures[self.agency_id] = eip712.sign_digest(key, self._digest(change))
            log.info(
                "signed the new signer set nonce=%s signers=%s threshold=%s",
                nonce,
                len(change.signers),
                change.threshold,
            )
        self._save(change)
        self._dirty.set()

    def _save(self, change: SignerChange) -> None:
        self._store.store.set_cursor(_CURSOR.format(nonce=change.nonce), change.encode())

    # --- gossip -------------------------------------------------------------------------------

    async def validate_gossip(self, message: GossipMessage) -> Verdict:
        try:
            nonce, signer, signature = decode_vote(message.data)
        except CalpeError as exc:
            log.warning("malformed signer-change vote peer=%s: %s", message.forwarder, exc)
            return Verdict.REJECT
        change = self._changes.get(nonce)
        if change is None:
            return Verdict.IGNORE  # not folded here yet, or long done
        expected = change.old_addresses.get(signer)
        if expected is None:
            return Verdict.REJECT
        try:
            recovered = eip712.address_bytes(eip712.recover_signer(self._digest(change), signature))
        except SignatureError:
            return Verdict.REJECT
        return Verdict.ACCEPT if recovered == expected else Verdict.REJECT

    async def deliver_gossip(self, message: GossipMessage) -> None:
        try:
            nonce, signer, signature = decode_vote(message.data)
        except CalpeError:
            return
        change = self._changes.get(nonce)
        if change is None or signer in change.signatures:
            return
        change.signatures[signer] = signature
        await self._store.call(self._save, change)
        if change.complete:
            log.info("signer set nonce=%s has a quorum of signatures", nonce)

    async def run(self) -> None:
        """Re-publish this node's signatures until each change has a quorum locally."""
        while True:
            for change in list(self._changes.values()):
                mine = change.signatures.get(self.agency_id)
                if mine is not None and not change.complete:
                    try:
                        await self._publish(encode_vote(change.nonce, self.agency_id, mine))
                    except Exception as exc:  # the next round tries again
                        log.info("publishing signer-change vote failed: %s", exc)
            with trio.move_on_after(self._rebroadcast_s):
                await self._dirty.wait()
            self._dirty = trio.Event()

    # --- for the bridge -----------------------------------------------------------------------

    def ready(self, nonce: int) -> tuple[list[str], int, bytes] | None:
        """``(signers, threshold, packed signatures)`` for ``changeSigners`` at ``nonce``, once a
        quorum of the old set has signed; None before."""
        change = self._changes.get(nonce)
        if change is None:
            stored = self._store.store.cursor(_CURSOR.format(nonce=nonce))
            if stored is None:
                return None
            change = self._changes[nonce] = decode_change(stored)
        if not change.complete:
            return None
        packed = eip712.pack_signatures(self._digest(change), change.signatures.values())
        return ["0x" + a.hex() for a in change.signers], change.threshold, packed
