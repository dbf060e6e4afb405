"""A dict-backed agency state for testing the pure core (the LevelDB store has its own tests)."""

from __future__ import annotations

from node.core import smt
from node.core.ledger import AgencyHead, AppliedBlock
from node.core.status import SchemaRecord, StatusRecord


class MemoryState:
    def __init__(self, head: AgencyHead) -> None:
        self.head = head
        self.nodes = smt.InMemoryNodeStore()
        self.credentials: dict[bytes, StatusRecord] = {}
        self.schemas: dict[bytes, SchemaRecord] = {}

    def get_node(self, position: bytes) -> bytes | None:
        return self.nodes.get_node(position)

    def credential(self, credential_id: bytes) -> StatusRecord | None:
        return self.credentials.get(credential_id)

    def schema(self, schema_id: bytes) -> SchemaRecord | None:
        return self.schemas.get(schema_id)

    def commit(self, applied: AppliedBlock) -> None:
        self.nodes.apply(applied.smt_writes)
        self.credentials.update(applied.credentials)
        self.schemas.update(applied.schemas)
        self.head = applied.head
