"""This agency's own key rotation, on disk: the new keystore exists before the rotation commits.

``prepare`` seals fresh keys into ``<keystore>.next``; once the block announcing them is durable,
``promote`` moves the current keystore to ``<keystore>.previous`` and the new one into place. A
crash in between is repaired at the next start (:meth:`KeyRotation.reconcile`): whichever file
holds the key the agency's log now requires becomes the keystore. The previous keys stay
readable because the old secp256k1 key keeps co-signing checkpoints until governance adopts
the new address (the contract's signer set changes then).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from node.config import NodeConfig
from node.core.keys import AgencyKeys
from node.core.keystore import seal
from node.keyfiles import load_keystore, write_private_file

log = logging.getLogger(__name__)


class KeyRotation:
    def __init__(self, config: NodeConfig, keys: AgencyKeys) -> None:
        self._config = config
        self.keys = keys
        self.path: Path = config.node.keystore

    @property
    def next_path(self) -> Path:
        return self.path.with_name(self.path.name + ".next")

    @property
    def previous_path(self) -> Path:
        return self.path.with_name(self.path.name + ".previous")

    def prepare(self) -> AgencyKeys:
        """Generate new keys and seal them next to the keystore (blocking: scrypt)."""
        new = AgencyKeys.generate()
        text = seal(new, self._config.node.agency_id, self._config.passphrase())
        write_private_file(self.next_path, text)
        return new

    def promote(self, new: AgencyKeys) -> None:
        """The rotation is committed: the new keystore becomes the keystore."""
        os.replace(self.path, self.previous_path)
        os.replace(self.next_path, self.path)
        self.keys = new
        log.info("keystore %s now holds the rotated keys", self.path)

    def reconcile(self, required_ed25519: bytes) -> AgencyKeys:
        """The keys whose Ed25519 key the agency's log requires, finishing an interrupted
        rotation if the node stopped between commit and promotion."""
        if self.keys.ed25519_public == required_ed25519 or not self.next_path.exists():
            return self.keys
        _agency, pending = load_keystore(self.next_path, self._config.passphrase())
        if pending.ed25519_public == required_ed25519:
            self.promote(pending)
        return self.keys

    def previous_keys(self) -> list[AgencyKeys]:
        if not self.previous_path.exists():
            return []
        _agency, previous = load_keystore(self.previous_path, self._config.passphrase())
        return [previous]
