"""The RSK bridge service: anchors quorum-signed checkpoints in the checkpoint contract.

One task per node, driven by its own persisted state (store cursors):

- ``rsk_bridge.anchored`` — the newest epoch seen confirmed on chain (u64). Older signed epochs
  are never submitted after it.
- ``rsk_bridge.inflight`` — the transaction this node sent and has not seen confirmed (JSON:
  epoch, tx hash, nonce, send time, block it was mined in). Written right after the send returns.

Each step either follows the in-flight transaction (confirmations, reorgs, a stuck gas price) or
picks the **newest** signed epoch above the cursor. The contract only takes increasing epochs, so a
newer signed checkpoint supersedes older ones that were never submitted (an endpoint was down, a
quorum formed late): they stay signed in the node's table, verifiable by their signatures, but
are not anchored; the newer one commits to a superset of their history. The epoch's proposer
submits at once; every other node relays after ``relay_delay_s`` if the epoch is still not on
chain, and a duplicate submission is refused at gas estimation (stale epoch) before it is sent.

After a crash the step resumes from the cursors. The window between a send and its cursor write is
covered twice: before sending, the bridge refuses while its account has a transaction pending that
it does not know about, and the contract's epoch check rejects a second submission of an epoch.
All chain calls run in worker threads (the web3 client is synchronous).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

import trio

from node.core import eip712
from node.core.checkpoint_protocol import CheckpointRecord
from node.storage import schema
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.chain_errors import (
    ChainError,
    ContractRevertedError,
    EndpointUnavailableError,
)
from plugins.rsk_bridge.settings import BridgeSettings, load_fee_key

log = logging.getLogger(__name__)

ANCHORED_CURSOR = "rsk_bridge.anchored"
INFLIGHT_CURSOR = "rsk_bridge.inflight"
T = TypeVar("T")


@dataclass(frozen=True)
class InFlight:
    epoch: int
    tx_hash: str
    nonce: int
    sent_s: float
    mined_block: int | None = None


class Bridge:
    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self._wake = trio.Event()
        self._force: int | None = None
        self._status: dict[str, Any] | None = None
        self._balance_checked = -1e9
        self.client: ChainClient | None = None

    def wake(self) -> None:
        self._wake.set()

    def status(self) -> dict[str, Any] | None:
        return self._status

    # --- the service ---------------------------------------------------------------------------

    async def run(self, node: Any) -> None:
        """Anchor until cancelled; an unreachable endpoint is retried with backoff."""
        self.node = node
        self.client = await self._client(node)
        backoff = 1.0
        while True:
            try:
                await self._chain(self.client.check_chain_id)
                await self.step()
                backoff = 1.0
                await self._sleep(self.settings.poll_interval_s)
            except EndpointUnavailableError as exc:
                log.warning("rsk endpoint unavailable, retrying in %.0f s: %s", backoff, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _client(self, node: Any) -> ChainClient:
        contract = node.checkpointer.contract
        if contract is None:
            raise ChainError("no [anchor] contract in the node config: nothing to anchor to")
        passphrase_file = self.settings.fee_passphrase_file
        passphrase = (
            passphrase_file.read_text().rstrip("\n")
            if passphrase_file
            else node.config.passphrase()
        )
        key = await trio.to_thread.run_sync(load_fee_key, self.settings.fee_keystore, passphrase)
        return ChainClient(
            self.settings.rpc_url,
            node.genesis.rsk_chain_id,
            key,
            contract=contract,
            timeout=self.settings.rpc_timeout_s,
            retries=1,
            poll_interval=self.settings.poll_interval_s,
        )

    async def _sleep(self, seconds: float) -> None:
        with trio.move_on_after(seconds):
            await self._wake.wait()
        self._wake = trio.Event()

    async def _chain(self, fn: Callable[..., T], *args: Any) -> T:
        def call() -> T:
            return fn(*args)

        # mypy 2 misreads trio's Unpack[Ts] signature as taking no keywords here
        return await trio.to_thread.run_sync(call, abandon_on_cancel=True)  # type: ignore[call-arg]

    # --- one step ------------------------------------------------------------------------------

    async def step(self) -> None:
        await self._check_balance()
        inflight = await self._load_inflight()
        if inflight is not None:
            await self._follow(inflight)
            return
        anchored = await self._anchored()
        signed = await self.node.checkpointer.signed_after(anchored)
        if not signed:
            # nothing to anchor: bring the contract's signer set up to date now, so that a
            # removed member or a replaced key stops counting even on an idle ledger
            await self._catch_up_signers(self.node.governance.current.signer_nonce)
            return
        newest = signed[-1]
        client = self._require_client()
        on_chain = await self._chain(client.latest_epoch)
        if on_chain >= newest.epoch:
            await self._observe(newest, on_chain)
        elif self._due(newest) and await self._signers_match(newest):
            await self._submit(newest)

    async def _signers_match(self, record: CheckpointRecord) -> bool:
        """The contract holds the signer set that signed ``record``; if it holds an older one,
        relay the governance's pending ``changeSigners`` first (one per step)."""
        required: int = self.node.governance.in_force(record.epoch).signer_nonce
        on_chain = await self._catch_up_signers(required)
        if on_chain > required:
            log.info("epoch=%s was signed by a superseded signer set; waiting", record.epoch)
        return on_chain == required

    async def _catch_up_signers(self, target: int) -> int:
        """Send the next ``changeSigners`` if the contract's nonce is below ``target`` and a
        quorum of its signers has signed it; returns the nonce the contract had."""
        client = self._require_client()
        on_chain = await self._chain(client.signer_set_nonce)
        if on_chain >= target:
            return on_chain
        change = self.node.signer_changes.ready(on_chain)
        if change is None:
            log.info("signer set nonce=%s: waiting for a quorum of signatures", on_chain)
            return on_chain
        signers, threshold, packed = change
        try:
            tx_hash = await self._chain(client.change_signers, signers, threshold, packed)
            await self._chain(client.wait_for_success, tx_hash)
        except ContractRevertedError as exc:
            log.info("changeSigners nonce=%s not sent: %s", on_chain, exc)  # relayed meanwhile
            return on_chain
        log.info(
            "signer set changed on chain nonce=%s signers=%s threshold=%s tx=%s",
            on_chain,
            len(signers),
            threshold,
            tx_hash,
        )
        return on_chain

    def _require_client(self) -> ChainClient:
        assert self.client is not None
        return self.client

    def _due(self, record: CheckpointRecord) -> bool:
        if record.proposer == self.node.agency_id or self._force == record.epoch:
            return True
        return time.time() * 1000 - record.signed_ms >= self.settings.relay_delay_s * 1000

    async def _submit(self, record: CheckpointRecord) -> None:
        client = self._require_client()
        latest, pending = await self._chain(client.account_nonces)
        if pending > latest:
            log.info(
                "fee account has %s pending tx; waiting before epoch=%s",
                pending - latest,
                record.epoch,
            )
            return
        digest = self.node.checkpointer.digest(record.epoch, record.checkpoint.checkpoint_root)
        packed = eip712.pack_signatures(digest, record.signatures.values())
        try:
            tx_hash = await self._chain(
                client.submit_checkpoint, record.epoch, record.checkpoint.checkpoint_root, packed
            )
        except ContractRevertedError as exc:
            log.info("epoch=%s not submitted: %s", record.epoch, exc)  # landed meanwhile
            return
        await self._save_inflight(InFlight(record.epoch, tx_hash, latest, time.time()))
        self._force = None
        log.info("checkpoint submitted epoch=%s tx=%s", record.epoch, tx_hash)
        await self.node.checkpointer.set_anchor_state(record.epoch, "submitted", tx_hash, 0)

    async def _observe(self, record: CheckpointRecord, on_chain: int) -> None:
        """The chain already holds ``record``'s epoch or a newer one (another node's tx)."""
        client = self._require_client()
        anchored = await self._chain(client.checkpoint_of, record.epoch)
        if anchored.root != record.checkpoint.checkpoint_root:
            if anchored.block_number != 0:
                self.node.alerts.raise_alert(
                    "critical",
                    "stale_checkpoint",
                    f"epoch {record.epoch} is anchored with root {anchored.root.hex()}, not this "
                    f"node's {record.checkpoint.checkpoint_root.hex()}",
                )
            await self._set_anchored(
                max(record.epoch, on_chain) if anchored.block_number else on_chain
            )
            return
        confirmations = await self._chain(client.confirmations_at, anchored.block_number)
        await self._progress(record, record.tx_hash, confirmations)

    async def _progress(
        self, record: CheckpointRecord, tx_hash: str | None, confirmations: int
    ) -> None:
        done = confirmations >= self.settings.confirmations
        state = "confirmed" if done else "submitted"
        await self.node.checkpointer.set_anchor_state(record.epoch, state, tx_hash, confirmations)
        if done:
            log.info("checkpoint confirmed epoch=%s confirmations=%s", record.epoch, confirmations)
            await self._set_anchored(record.epoch)

    async def _follow(self, inflight: InFlight) -> None:
        client = self._require_client()
        record = await self._record(inflight.epoch)
        receipt = await self._chain(client.receipt, inflight.tx_hash)
        if receipt is None:
            await self._not_mined(inflight)
            return
        if receipt.status != 1:
            log.info(
                "tx=%s for epoch=%s reverted: another submission landed",
                receipt.tx_hash,
                inflight.epoch,
            )
            await self._save_inflight(None)
            return
        if inflight.mined_block != receipt.block_number:
            await self._save_inflight(replace(inflight, mined_block=receipt.block_number))
        confirmations = await self._chain(client.confirmations_at, receipt.block_number)
        if confirmations >= self.settings.confirmations:
            anchored = await self._chain(client.checkpoint_of, inflight.epoch)
            fresh = await self._chain(client.receipt, inflight.tx_hash)
            if (
                fresh is None
                or fresh.block_hash != receipt.block_hash
                or (record is not None and anchored.root != record.checkpoint.checkpoint_root)
            ):
                return  # moved under us: the next step sees the reorg
            await self._save_inflight(None)
        if record is not None:
            await self._progress(record, inflight.tx_hash, confirmations)

    async def _not_mined(self, inflight: InFlight) -> None:
        client = self._require_client()
        if inflight.mined_block is not None:
            log.warning("reorg: tx=%s of epoch=%s left the chain", inflight.tx_hash, inflight.epoch)
            self.node.alerts.raise_alert(
                "warning",
                "stale_checkpoint",
                f"the anchoring tx of epoch {inflight.epoch} was dropped by a reorg; resubmitting",
            )
            await self.node.checkpointer.set_anchor_state(
                inflight.epoch, "reorged", inflight.tx_hash, 0
            )
            inflight = replace(inflight, mined_block=None)
            await self._save_inflight(inflight)
        known = await self._chain(client.rpc, "eth_getTransactionByHash", [inflight.tx_hash])
        if known is None:  # dropped (reorg, mempool eviction, replaced): start over
            await self._save_inflight(None)
            self._force = inflight.epoch
            self.wake()
        elif time.time() - inflight.sent_s > self.settings.stuck_after_s:
            new_hash = await self._chain(client.replace_transaction, inflight.tx_hash)
            await self._save_inflight(replace(inflight, tx_hash=new_hash, sent_s=time.time()))
            await self.node.checkpointer.set_anchor_state(inflight.epoch, "submitted", new_hash, 0)

    async def _check_balance(self) -> None:
        if time.monotonic() - self._balance_checked < 60:
            return
        client = self._require_client()
        balance = await self._chain(client.balance)
        self._balance_checked = time.monotonic()
        self._status = {
            "account": client.account,
            "balance_wei": str(balance),
            "chain_id": client.chain_id,
            "endpoint": client.url,
        }
        if balance < self.settings.min_balance_wei:
            self.node.alerts.raise_alert(
                "warning",
                "low_balance",
                f"the RSK fee account {client.account} holds {balance} wei, below "
                f"{self.settings.min_balance_wei}: fund it or checkpoints stop being anchored",
                fold_s=3600,
            )

    # --- persisted state -----------------------------------------------------------------------

    async def _record(self, epoch: int) -> CheckpointRecord | None:
        from node.storage import checkpoint_table

        found: CheckpointRecord | None = await self.node.store.call(
            checkpoint_table.get_record, self.node.store.store, epoch
        )
        return found

    async def _anchored(self) -> int:
        raw = await self.node.store.call(self.node.store.store.cursor, ANCHORED_CURSOR)
        return 0 if raw is None else schema.read_u64(raw)

    async def _set_anchored(self, epoch: int) -> None:
        if epoch > await self._anchored():
            store = self.node.store.store
            await self.node.store.call(store.set_cursor, ANCHORED_CURSOR, schema.u64(epoch))

    async def _load_inflight(self) -> InFlight | None:
        raw = await self.node.store.call(self.node.store.store.cursor, INFLIGHT_CURSOR)
        if not raw:
            return None
        return InFlight(**json.loads(raw))

    async def _save_inflight(self, inflight: InFlight | None) -> None:
        value = b"" if inflight is None else json.dumps(asdict(inflight)).encode()
        await self.node.store.call(self.node.store.store.set_cursor, INFLIGHT_CURSOR, value)
