"""Every error Calpe raises on purpose derives from :class:`CalpeError`.

::

    CalpeError
    ├── ConfigError              a config, genesis or keystore file is wrong (names file and field)
    ├── KeystoreError            wrong passphrase, corrupt or unsupported keystore
    ├── EncodingError            bytes that are not a canonical Calpe encoding
    ├── ValidationError          well-formed data that breaks a ledger rule
    │   ├── NotMemberError           the signer is not a current member agency
    │   ├── SignatureError           a signature does not verify
    │   ├── HeightError              height is not previous + 1 (gap or replay)
    │   ├── PrevHashError            prev_hash does not match the stored head
    │   ├── TimestampError           timestamp too far in the future or before the previous block
    │   ├── RootMismatchError        events_root or state_root differs from the recomputed one
    │   ├── SizeLimitError           too many events or too many bytes
    │   │   └── BlockTooLargeError   the events chosen for a new block encode to too many bytes
    │   ├── SchemaViolationError     an event field outside its closed schema
    │   ├── ForeignCredentialError   a status change to a credential of another agency
    │   ├── UnknownCredentialError   a status change to a credential that was never issued
    │   ├── DuplicateCredentialError a credential issued twice
    │   ├── RevokedFinalError        any change to a revoked credential
    │   ├── TransitionError          another impossible status change (suspend twice, …)
    │   ├── NetworkMismatchError     data of another network (genesis hash differs)
    │   ├── AgencyFrozenError        the agency's log is frozen after equivocation
    │   ├── CheckpointRefusedError   a proposed checkpoint this node will not co-sign
    │   ├── UnknownProposalError     a vote for a governance proposal nobody made
    │   └── DuplicateVoteError       a second vote of an agency on one proposal
    ├── ProofError               a Merkle or sparse-Merkle proof does not verify or is malformed
    ├── NetworkError             a peer exchange failed (the network service itself keeps running)
    │   ├── PeerNotAllowedError      the peer is not a current member, or is banned for misbehaving
    │   ├── RequestFailedError       a request was refused, reset, or its protocol is unsupported
    │   ├── RequestTimeoutError      a request/response exchange did not finish in time
    │   └── MessageTooLargeError     a request, response or gossip message exceeds its size limit
    └── StorageError             the database cannot be opened, is of another network, or corrupt
"""

from __future__ import annotations


class CalpeError(Exception):
    """Base of every error Calpe raises on purpose."""


class ConfigError(CalpeError):
    """A configuration, genesis or keystore file is wrong."""


class KeystoreError(CalpeError):
    """A keystore cannot be read: wrong passphrase, corrupt or unsupported."""


class EncodingError(CalpeError):
    """Bytes that are not a canonical Calpe encoding of the expected type."""


class ValidationError(CalpeError):
    """Well-formed data that breaks a ledger rule. ``reason`` is a stable machine code."""

    reason = "invalid"


class NotMemberError(ValidationError):
    reason = "not_member"


class SignatureError(ValidationError):
    reason = "bad_signature"


class HeightError(ValidationError):
    reason = "bad_height"


class PrevHashError(ValidationError):
    reason = "bad_prev_hash"


class TimestampError(ValidationError):
    reason = "bad_timestamp"


class RootMismatchError(ValidationError):
    reason = "root_mismatch"


class SizeLimitError(ValidationError):
    reason = "too_large"


class BlockTooLargeError(SizeLimitError):
    """Authoring only: the events fit in a block by count, not by bytes; cut fewer of them."""


class SchemaViolationError(ValidationError):
    reason = "schema_violation"


class ForeignCredentialError(ValidationError):
    reason = "foreign_credential"


class UnknownCredentialError(ValidationError):
    reason = "unknown_credential"


class DuplicateCredentialError(ValidationError):
    reason = "duplicate_credential"


class RevokedFinalError(ValidationError):
    reason = "revoked_final"


class TransitionError(ValidationError):
    reason = "bad_transition"


class NetworkMismatchError(ValidationError):
    reason = "wrong_network"


class AgencyFrozenError(ValidationError):
    reason = "agency_frozen"


class ProofError(CalpeError):
    """A Merkle or sparse-Merkle proof is malformed or does not verify."""


class NetworkError(CalpeError):
    """A peer exchange failed; the network service itself keeps running."""


class PeerNotAllowedError(NetworkError):
    """The peer is not a current member agency, or is banned for misbehaving."""


class RequestFailedError(NetworkError):
    """A request was refused or reset by the peer, or no common protocol exists."""


class RequestTimeoutError(NetworkError):
    """A request/response exchange did not finish within its timeout."""


class MessageTooLargeError(NetworkError):
    """A request, response or gossip message exceeds its configured size limit."""


class StorageError(CalpeError):
    """The database cannot be opened, belongs to another network, or is corrupt."""


class CheckpointRefusedError(ValidationError):
    """A proposed checkpoint this node will not co-sign (cut mismatch, backwards, wrong epoch)."""

    reason = "checkpoint_refused"


class UnknownProposalError(ValidationError):
    """A vote for a governance proposal this node has not seen in any agency's log."""

    reason = "unknown_proposal"


class DuplicateVoteError(ValidationError):
    """This agency already proposed or approved the proposal (a vote counts once)."""

    reason = "duplicate_vote"
