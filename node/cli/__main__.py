"""``python -m node.cli`` runs the ``calpe`` command (used where the entry point is not on PATH)."""

from node.cli import main

main()
