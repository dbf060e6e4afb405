"""The Calpe console (Textual). ``tui.client`` is the admin API client and needs no Textual.

``main(argv)`` is the ``calpe tui`` entry; Textual is imported only when it runs.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run ``calpe tui [--socket PATH | --url URL --token-file FILE] [--light]``; the exit code."""
    from tui.cli import run

    return run(argv)
