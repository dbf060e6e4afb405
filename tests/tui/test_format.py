"""What the console prints from small values."""

from __future__ import annotations

from tui.format import anchor_tx


def test_a_checkpoint_anchored_by_another_agency_says_so() -> None:
    tx = "0x" + "ab" * 32
    assert anchor_tx(tx, "confirmed") == tx
    assert anchor_tx(tx, "confirmed", keep=12) == tx[:12] + "…"
    assert anchor_tx(None, "confirmed") == "sent by another agency"
    assert anchor_tx(None, "submitted") == "sent by another agency"
    assert anchor_tx(None, "signed") == "not sent yet"
    assert anchor_tx(None, "proposed") == "not sent yet"
