"""The SMT journal's value: the positions a block has undo entries for, length-prefixed."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core import smt
from node.core.errors import EncodingError, StorageError
from node.storage import codec, schema, writer
from node.storage.reader import PendingBatch

_POSITIONS = st.lists(
    st.builds(smt.position, st.integers(0, smt.KEY_BITS), st.binary(min_size=32, max_size=32)),
    max_size=40,
)


@given(_POSITIONS)
def test_positions_round_trip(positions: list[bytes]) -> None:
    assert codec.decode_positions(codec.encode_positions(positions)) == positions


@given(_POSITIONS, st.integers(0, 2**16 - 1), st.integers(1, schema.MAX_UNDO_HEIGHT))
def test_pruning_reads_them_as_undo_keys(positions: list[bytes], num: int, height: int) -> None:
    prefix, suffix = schema.smt_undo_affixes(num, height)
    keys = codec.decode_positions(codec.encode_positions(positions), prefix, suffix)
    assert keys == [schema.smt_undo(num, pos, height) for pos in positions]


def test_a_truncated_entry_is_refused() -> None:
    raw = codec.encode_positions([smt.position(9, bytes(32)), smt.position(20, bytes(32))])
    for cut in range(1, len(raw)):
        if raw[:cut] == codec.encode_positions([smt.position(9, bytes(32))]):
            continue  # a whole first entry: a valid journal of one position
        with pytest.raises(EncodingError, match="truncated"):
            codec.decode_positions(raw[:cut])


def test_history_past_the_highest_undo_key_height_is_refused(tmp_path: Path) -> None:
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    root = smt.ROOT_POSITION
    for height, refused in ((schema.MAX_UNDO_HEIGHT, False), (schema.MAX_UNDO_HEIGHT + 1, True)):
        batch = PendingBatch(db)
        add = writer._add_smt_writes  # the block's state-history rows, alone
        if refused:
            with pytest.raises(StorageError, match="past the highest"):
                add(batch, 0, height, {root: b"\x01" * 65}, {root: b"\x02" * 65}, retention=8)
            assert not batch.ops  # the block is refused before anything is added
        else:
            add(batch, 0, height, {root: b"\x01" * 65}, {root: b"\x02" * 65}, retention=8)
            assert schema.smt_undo(0, root, height) in batch.ops
    db.close()
