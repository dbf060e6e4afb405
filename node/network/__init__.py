"""The libp2p boundary: the only package that imports py-libp2p.

The rest of Calpe uses :class:`PeerNetwork` with a :class:`NetworkConfig` and the callbacks of
:class:`NetworkHandlers`; identities are raw 32-byte Ed25519 seeds and public keys.
"""

import warnings

with warnings.catch_warnings():
    # py-libp2p 0.8.1 imports ``websockets.legacy`` (deprecated since websockets 14) at import
    # time; it must not turn into an error where warnings are errors (pytest, -W error).
    warnings.filterwarnings("ignore", message=r"websockets\.legacy is deprecated")
    import libp2p  # noqa: F401

from node.network.api import GossipMessage, NetworkHandlers, PeerInfo, Verdict
from node.network.config import GossipParams, NetworkConfig, RequestLimits, StaticPeer, topic_name
from node.network.identity import peer_id_from_ed25519_public, peer_id_from_seed
from node.network.service import PeerNetwork

__all__ = [
    "GossipMessage",
    "GossipParams",
    "NetworkConfig",
    "NetworkHandlers",
    "PeerInfo",
    "PeerNetwork",
    "RequestLimits",
    "StaticPeer",
    "Verdict",
    "peer_id_from_ed25519_public",
    "peer_id_from_seed",
    "topic_name",
]
