# Importing node.network first silences py-libp2p's import-time DeprecationWarning for every
# test module here, whatever order its own imports are in.
import node.network  # noqa: F401
