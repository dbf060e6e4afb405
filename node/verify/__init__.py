"""The public verifier: checks a proof bundle against the checkpoint contract on RSK.

It trusts neither nodes nor agencies, only the chain endpoint's answers and the contract address
the caller names. Importing it needs only the pure core (cbor2, pycryptodome, coincurve) and the
standard library: no LevelDB, libp2p, trio, web3 nor Textual (a test holds it to that).

    from node.verify import RpcChainReader, verify_bundle
    verdict = verify_bundle(bundle_json, RpcChainReader(url), contract=address)
    verdict.outcome  # Outcome.VALID, REVOKED, SUSPENDED, EXPIRED, NOT_YET_VALID, UNKNOWN, INVALID
"""

from node.verify.api import load_bundle, verify_bundle
from node.verify.bundle import ProofBundle, from_compact, parse_bundle, to_compact
from node.verify.chain import ChainFacts, ChainReader, ChainReadError, read_facts
from node.verify.checks import Policy, evaluate
from node.verify.rpc import RpcChainReader
from node.verify.verdict import Anchor, Outcome, Reason, Verdict

__all__ = [
    "Anchor",
    "ChainFacts",
    "ChainReadError",
    "ChainReader",
    "Outcome",
    "Policy",
    "ProofBundle",
    "Reason",
    "RpcChainReader",
    "Verdict",
    "evaluate",
    "from_compact",
    "load_bundle",
    "parse_bundle",
    "read_facts",
    "to_compact",
    "verify_bundle",
]
