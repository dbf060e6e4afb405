"""Snapshot join, trio side: serve snapshots to peers, and join a network from one.

A fresh node asks its peers for their newest *confirmed* checkpoint (``/calpe/snapshot/1``),
verifies it against its own cut leaves and against the root the checkpoint contract stores on
chain, and each agency's keys and timestamp against its block at the cut height
(:mod:`node.core.snapshot`); it fetches every agency's state as of the cut, rebuilds and checks
each state root, and installs it (:mod:`node.storage.snapshot_install`). Normal block sync then
continues from the installed heads: only the blocks after the cut are fetched.

Nothing here blocks the trio loop: store work runs through :class:`StoreAccess`, the chain read
through ``trio.to_thread``. Serving never raises out of a handler: a bad request or an
unanswerable one gets a refusal, logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import trio

from node.config import NodeConfig
from node.core import eip712
from node.core.checkpoint import CutLeaf
from node.core.errors import CalpeError, ConfigError, EncodingError, NetworkError
from node.core.genesis import Genesis
from node.core.hashing import ZERO_HASH
from node.core.keys import AgencyKeys
from node.core.snapshot import (
    LeafInfo,
    Manifest,
    SignerOf,
    SnapshotRefusedError,
    StateBuilder,
    check_network,
    governance_of,
    read_entry,
    verify_manifest,
)
from node.network import (
    GossipMessage,
    NetworkConfig,
    NetworkHandlers,
    PeerNetwork,
    StaticPeer,
    Verdict,
    peer_id_from_ed25519_public,
)
from node.network.api import RequestHandler
from node.services import snapshot_protocol as wire
from node.services.store_access import StoreAccess
from node.storage import snapshot_install, snapshot_source
from node.storage.snapshot_install import SnapshotInstaller
from node.storage.store import LedgerStore

log = logging.getLogger(__name__)

"""Receives ``(epoch, blob)`` of the snapshot a node joined from, before the join completes."""
OnchainRoot = Callable[[int], "bytes | None"]
"""Blocking read of the contract's ``checkpointOf(epoch)`` root (None: not anchored)."""
Progress = Callable[[str, int, "int | None"], None]
"""``progress(agency_id, entries_done, entries_total_or_None)``."""

PROGRESS_LOG_EVERY = 100_000
"""Entries between two progress lines in the log."""

NO_SNAPSHOT_HINT = (
    "no peer offers a confirmed (anchored) checkpoint to join from; wait until the network "
    "anchors its first checkpoint and it is confirmed on chain, or join by replay (start the "
    "node without --snapshot-join)"
)


class SnapshotUnavailableError(NetworkError):
    """No reachable peer offered a confirmed checkpoint whose snapshot verified."""


# ------------------------------------------------------------------------------- serving


class SnapshotServer:
    """Request handlers of ``/calpe/snapshot/1`` (register them with the peer network)."""

    def __init__(self, store: StoreAccess) -> None:
        self._store = store

    def handlers(self) -> dict[str, RequestHandler]:
        return {wire.MANIFEST_PROTOCOL: self.serve_manifest, wire.CHUNK_PROTOCOL: self.serve_chunk}

    async def serve_manifest(self, peer_id: str, request: bytes) -> bytes:
        try:
            return await self._manifest()
        except Exception as exc:  # a handler must never raise (it would reset the stream)
            return _refuse(peer_id, "manifest", exc)

    async def serve_chunk(self, peer_id: str, request: bytes) -> bytes:
        try:
            return await self._chunk(request)
        except Exception as exc:
            return _refuse(peer_id, "chunk", exc)

    async def _manifest(self) -> bytes:
        store = self._store.store

        def read() -> Manifest | None:
            record = snapshot_source.newest_confirmed(store)
            if record is None:
                return None
            governance = store.governance_blob(record.epoch)
            if not governance:
                return None  # not folded yet: a moment later it is
            leaves = snapshot_source.manifest_leaves(store, record)
            return Manifest(record, tuple(leaves), governance)

        manifest = await self._store.call(read)
        if manifest is None:
            return wire.encode_refusal("this node holds no confirmed (and folded) checkpoint")
        return wire.encode_manifest(manifest)

    async def _chunk(self, request: bytes) -> bytes:
        epoch, agency_id, after, count = wire.decode_chunk_request(request)
        store = self._store.store

        def read() -> tuple[list[tuple[int, bytes]], bool] | str:
            record = snapshot_source.confirmed(store, epoch)
            if record is None:
                return f"epoch {epoch} is not a confirmed checkpoint here"
            leaf = next((x for x in record.checkpoint.cut.leaves if x.agency_id == agency_id), None)
            if leaf is None:
                return f"{agency_id} is not in the cut of epoch {epoch}"
            budget = wire.MAX_RESPONSE_BYTES - 64 * 1024
            return snapshot_source.state_entries(
                store, agency_id, leaf.height, after, count, budget
            )

        found = await self._store.call(read)
        if isinstance(found, str):
            return wire.encode_refusal(found)
        return wire.encode_chunk(*found)


def _refuse(peer_id: str, what: str, exc: Exception) -> bytes:
    if isinstance(exc, CalpeError):
        log.info("snapshot %s request refused peer=%s: %s", what, peer_id, exc)
    else:
        log.exception("snapshot %s request failed peer=%s", what, peer_id)
    return wire.encode_refusal(f"{type(exc).__name__}: {exc}")


# -------------------------------------------------------------------------------- joining


@dataclass(frozen=True)
class JoinResult:
    epoch: int
    peer_id: str
    entries: int
    heights: dict[str, int]


@dataclass(frozen=True)
class JoinOptions:
    chunk_items: int = 20_000
    peer_wait_s: float = 60.0
    """How long to wait for a peer that offers a confirmed checkpoint."""
    request_timeout_s: float = 60.0


class SnapshotJoiner:
    """Joins an empty store from a peer's snapshot; see the module docstring."""

    def __init__(
        self,
        store: StoreAccess,
        network: PeerNetwork,
        onchain_root: OnchainRoot,
        *,
        signer_of: Callable[[Manifest], SignerOf] | None = None,
        progress: Progress | None = None,
        options: JoinOptions = JoinOptions(),
    ) -> None:
        self._store = store
        self._network = network
        self._onchain_root = onchain_root
        self._signer_of = signer_of
        self._progress = progress
        self._options = options

    async def join(self) -> JoinResult:
        """Install the newest verifiable snapshot; :class:`SnapshotUnavailableError` if none."""
        if snapshot_install.join_state(self._store.store) == "installing":
            log.warning("an earlier snapshot join did not finish: discarding it")
            await self._store.call(snapshot_install.discard, self._store.store)
        refused: list[str] = []
        deadline = trio.current_time() + self._options.peer_wait_s
        while True:
            for peer_id, manifest in await self._offers():
                try:
                    return await self._join_from(peer_id, manifest)
                except SnapshotRefusedError as exc:
                    log.warning("snapshot from peer=%s refused: %s", peer_id, exc)
                    refused.append(f"{peer_id[:12]}…: {exc}")
                except (NetworkError, EncodingError, trio.TooSlowError) as exc:
                    log.warning("snapshot from peer=%s failed: %s", peer_id, exc)
                await self._store.call(snapshot_install.discard, self._store.store)
            if trio.current_time() >= deadline:
                detail = f" (refused: {'; '.join(refused)})" if refused else ""
                raise SnapshotUnavailableError(NO_SNAPSHOT_HINT + detail)
            await trio.sleep(0.25)  # peers still connecting, or none offers yet

    async def _offers(self) -> list[tuple[str, Manifest]]:
        """Every connected peer's manifest, newest epoch first."""
        offers = []
        for peer in self._network.connected_peers():
            try:
                data = await self._network.request(
                    peer.peer_id, wire.MANIFEST_PROTOCOL, b"", timeout=30
                )
                offers.append((peer.peer_id, wire.decode_manifest(data)))
            except (NetworkError, EncodingError, trio.TooSlowError) as exc:
                log.info("no snapshot manifest from peer=%s: %s", peer.peer_id, exc)
        return sorted(offers, key=lambda offer: -offer[1].epoch)

    async def _join_from(self, peer_id: str, manifest: Manifest) -> JoinResult:
        epoch = manifest.epoch
        onchain = await trio.to_thread.run_sync(self._onchain_root, epoch)
        signer_of = self._signer_of(manifest) if self._signer_of else None
        store = self._store.store
        gov = governance_of(manifest)
        known = set(store.heads()) | {m.agency_id for m in gov.members}
        check_network(manifest, store.network_id, known)
        verify_manifest(manifest, onchain, signer_of, genesis=store.genesis)
        log.info("joining by snapshot epoch=%s peer=%s", epoch, peer_id)
        started = time.perf_counter()
        installer = SnapshotInstaller(self._store.store, epoch)
        await self._store.call(installer.begin)
        # admits the agencies governance added, before their rows arrive
        await self._store.call(store.apply_governance, gov)
        entries = 0
        for leaf in manifest.record.checkpoint.cut.leaves:
            if leaf.height == 0:
                continue
            entries += await self._agency(peer_id, installer, leaf, manifest.info(leaf.agency_id))
        await self._store.call(installer.complete, manifest.record)
        log.info(
            "snapshot join done epoch=%s entries=%s in %.1fs",
            epoch,
            entries,
            time.perf_counter() - started,
        )
        heights = {leaf.agency_id: leaf.height for leaf in manifest.record.checkpoint.cut.leaves}
        return JoinResult(epoch, peer_id, entries, heights)

    async def _agency(
        self, peer_id: str, installer: SnapshotInstaller, leaf: CutLeaf, info: LeafInfo
    ) -> int:
        """Fetch (one chunk ahead) and install one agency's state; return its entry count."""
        builder = StateBuilder(leaf.agency_id, leaf.height, leaf.state_root)
        send: trio.MemorySendChannel[list[tuple[int, bytes]]]
        receive: trio.MemoryReceiveChannel[list[tuple[int, bytes]]]
        send, receive = trio.open_memory_channel(2)
        epoch = installer.epoch
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._fetch, peer_id, epoch, leaf.agency_id, builder, send)
                async with receive:
                    async for served in receive:
                        before = len(builder.keys)
                        await self._store.call(_install_chunk, installer, builder, served)
                        self._report(leaf.agency_id, before, len(builder.keys))
        except BaseExceptionGroup as group:  # fetch and install failing at once: report one
            raise group.exceptions[0] from group
        await self._store.call(installer.finish_agency, leaf, info, builder)
        return len(builder.keys)

    async def _fetch(
        self,
        peer_id: str,
        epoch: int,
        agency_id: str,
        builder: StateBuilder,
        send: trio.MemorySendChannel[list[tuple[int, bytes]]],
    ) -> None:
        """Pages through the agency's entries; the key to continue after is the last served
        one, read here from the (unverified) page: the installer checks order and the root."""
        after = b""
        async with send:
            while True:
                request = wire.encode_chunk_request(
                    epoch, agency_id, after, self._options.chunk_items
                )
                data = await self._network.request(
                    peer_id, wire.CHUNK_PROTOCOL, request, timeout=self._options.request_timeout_s
                )
                served, done = await trio.to_thread.run_sync(wire.decode_chunk, data)
                if served:
                    after = await trio.to_thread.run_sync(_last_key, agency_id, builder, served)
                    await send.send(served)
                if done:
                    return
                if not served:
                    raise SnapshotRefusedError(f"{agency_id}: the peer served an empty chunk")

    def _report(self, agency_id: str, before: int, done: int) -> None:
        if self._progress is not None:
            self._progress(agency_id, done, None)
        if done // PROGRESS_LOG_EVERY != before // PROGRESS_LOG_EVERY:
            log.info("snapshot progress agency=%s entries=%s", agency_id, done)


def _install_chunk(
    installer: SnapshotInstaller, builder: StateBuilder, served: Sequence[tuple[int, bytes]]
) -> None:
    installer.add_entries(builder.agency_id, builder.add(served))


def _last_key(agency_id: str, builder: StateBuilder, served: Sequence[tuple[int, bytes]]) -> bytes:
    kind, encoded = served[-1]
    return read_entry(agency_id, builder.height, kind, encoded).key


# ------------------------------------------------------------------ wiring for the daemon


async def join_network(
    config: NodeConfig,
    keys: AgencyKeys,
    store: LedgerStore,
    onchain_root: OnchainRoot,
    *,
    progress: Progress | None = None,
    options: JoinOptions = JoinOptions(),
) -> JoinResult:
    """Join ``store`` (empty) from a peer's snapshot over a short-lived peer network with the
    node's own identity and peers; the node itself starts afterwards."""
    network = PeerNetwork(_network_config(config, keys, store), NetworkHandlers(_ignore, _drop))
    genesis = store.genesis
    contract = config.anchor.contract if config.anchor is not None else None

    def signer_of(manifest: Manifest) -> SignerOf:
        assert contract is not None
        checkpoint = manifest.record.checkpoint
        digest = eip712.checkpoint_digest(
            genesis.rsk_chain_id,
            contract,
            checkpoint.network_id,
            checkpoint.epoch,
            checkpoint.checkpoint_root,
        )
        return lambda signature: eip712.address_bytes(eip712.recover_signer(digest, signature))

    joiner = SnapshotJoiner(
        StoreAccess(store),
        network,
        onchain_root,
        signer_of=signer_of if contract is not None else None,
        progress=progress,
        options=options,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(network.run)
        try:
            return await joiner.join()
        finally:
            nursery.cancel_scope.cancel()


def chain_root_reader(config: NodeConfig, genesis: Genesis) -> OnchainRoot:
    """``checkpointOf(epoch)`` through the RSK bridge's chain client and the node's config."""
    rpc_url = (config.plugins.get("rsk_bridge") or {}).get("rpc_url")
    if config.anchor is None or not isinstance(rpc_url, str):
        raise ConfigError(
            f"{config.source}: joining by snapshot checks the checkpoint on chain: set "
            "[anchor] contract and [plugins.rsk_bridge] rpc_url"
        )
    from plugins.rsk_bridge.chain import ChainClient  # the one boundary to web3

    client = ChainClient(rpc_url, genesis.rsk_chain_id, contract=config.anchor.contract)

    def read(epoch: int) -> bytes | None:
        root = bytes(client.checkpoint_of(epoch).root)
        return None if root == ZERO_HASH else root

    return read


def _network_config(config: NodeConfig, keys: AgencyKeys, store: LedgerStore) -> NetworkConfig:
    members = {a: peer_id_from_ed25519_public(h.ed25519_public) for a, h in store.heads().items()}
    members.pop(config.node.agency_id, None)
    static = [
        StaticPeer(members[p.agency_id], (p.address,))
        for p in config.network.peers
        if p.agency_id in members
    ]
    return NetworkConfig(
        identity_seed=keys.ed25519_seed,
        members=tuple(members.values()),
        topics=(),
        listen_addrs=tuple(config.network.listen),
        static_peers=tuple(static),
    )


async def _ignore(_message: GossipMessage) -> Verdict:
    return Verdict.IGNORE


async def _drop(_message: GossipMessage) -> None:
    return None
