// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.34;

/// @title Calpe checkpoint anchor
/// @notice Stores the checkpoint roots of one Calpe network, each co-signed as EIP-712 typed data
///         by at least `threshold` of the network's current signers (one secp256k1 key per agency).
/// @dev Storage is packed for a cheap steady-state `submitCheckpoint`:
///      - one slot `_state`: latest epoch, threshold, signer count and the address of a code-only
///        "data contract" holding the sorted signer list (read with one EXTCODECOPY instead of one
///        SLOAD per signer);
///      - one fresh slot per epoch for the root;
///      - the anchoring block numbers in 32-bit lanes, eight epochs per slot.
///      Signatures are 65 bytes each (r, s, v), packed, ordered by recovered signer address strictly
///      ascending (which rules out duplicates), s in the lower half order (EIP-2), v in {27, 28}.
///      Epochs start at 1 and must strictly increase; a gap is allowed.
contract CalpeCheckpoints {
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("Calpe");
    bytes32 private constant _VERSION_HASH = keccak256("1");

    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(bytes32 networkId,uint64 epoch,bytes32 checkpointRoot)");
    bytes32 public constant SIGNER_SET_CHANGE_TYPEHASH =
        keccak256("SignerSetChange(address[] signers,uint8 threshold,uint64 nonce)");

    /// @dev secp256k1 order / 2: a larger s is the malleable twin of a valid signature (EIP-2).
    uint256 private constant _HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    uint256 private constant _SIG_LENGTH = 65;
    uint256 private constant _LANE_BITS = 32;
    uint256 private constant _LANE_MASK = 0xffffffff;

    struct State {
        uint64 latestEpoch;
        uint8 threshold;
        uint8 signerCount;
        address signerData;
    }

    /// @notice The Calpe network this contract anchors (the hash of its genesis).
    bytes32 public immutable networkId;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    State private _state;
    uint64 private _signerSetNonce;
    mapping(uint64 epoch => bytes32 root) private _roots;
    mapping(uint256 group => uint256 lanes) private _anchorBlocks;

    event CheckpointAnchored(uint64 indexed epoch, bytes32 checkpointRoot, address submitter);
    event SignersChanged(uint64 indexed nonce, address[] signers, uint8 threshold);

    error EpochNotIncreasing(uint64 epoch, uint64 latestEpoch);
    error EmptyRoot();
    error MalformedSignatures(uint256 length);
    error NotEnoughSignatures(uint256 given, uint256 required);
    error InvalidSignatureV(uint256 index, uint8 v);
    error HighS(uint256 index);
    error InvalidSignature(uint256 index);
    error DuplicateSigner(uint256 index, address signer);
    error SignersNotAscending(uint256 index, address signer);
    error NotASigner(uint256 index, address signer);
    error InvalidSignerSet(uint256 index);
    error InvalidThreshold(uint256 threshold, uint256 signerCount);
    error BlockNumberTooLarge(uint256 blockNumber);
    error SignerDataDeployFailed();

    constructor(bytes32 networkId_, address[] memory signers_, uint8 threshold_) {
        networkId = networkId_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _setSigners(signers_, threshold_);
        _signerSetNonce = 1;
    }

    // ----------------------------------------------------------------------------------- writes

    /// @notice Anchor the checkpoint root of `epoch`, co-signed by a quorum of the current signers.
    function submitCheckpoint(uint64 epoch, bytes32 checkpointRoot, bytes calldata signatures)
        external
    {
        State memory st = _state;
        if (epoch <= st.latestEpoch) revert EpochNotIncreasing(epoch, st.latestEpoch);
        if (checkpointRoot == bytes32(0)) revert EmptyRoot();
        bytes32 structHash = keccak256(abi.encode(CHECKPOINT_TYPEHASH, networkId, epoch, checkpointRoot));
        _verifyQuorum(_hashTypedData(structHash), signatures, st);

        _roots[epoch] = checkpointRoot;
        if (block.number > _LANE_MASK) revert BlockNumberTooLarge(block.number);
        // Epochs strictly increase, so the lane is still empty: OR-ing is enough.
        _anchorBlocks[epoch >> 3] |= block.number << ((epoch & 7) * _LANE_BITS);
        _state.latestEpoch = epoch;
        emit CheckpointAnchored(epoch, checkpointRoot, msg.sender);
    }

    /// @notice Replace the signer set; signed as `SignerSetChange` by a quorum of the current set,
    ///         with `nonce` equal to `signerSetNonce()`.
    function changeSigners(address[] calldata newSigners, uint8 newThreshold, bytes calldata signatures)
        external
    {
        uint64 nonce = _signerSetNonce;
        bytes32 structHash = keccak256(
            abi.encode(
                SIGNER_SET_CHANGE_TYPEHASH, keccak256(abi.encodePacked(newSigners)), newThreshold, nonce
            )
        );
        _verifyQuorum(_hashTypedData(structHash), signatures, _state);
        _setSigners(newSigners, newThreshold);
        _signerSetNonce = nonce + 1;
        emit SignersChanged(nonce, newSigners, newThreshold);
    }

    // ------------------------------------------------------------------------------------ views

    /// @notice The root anchored for `epoch` and the block that anchored it; zeros if none.
    function checkpointOf(uint64 epoch) external view returns (bytes32 root, uint64 blockNumber) {
        root = _roots[epoch];
        blockNumber = uint64((_anchorBlocks[epoch >> 3] >> ((epoch & 7) * _LANE_BITS)) & _LANE_MASK);
    }

    function latestEpoch() external view returns (uint64) {
        return _state.latestEpoch;
    }

    function threshold() external view returns (uint8) {
        return _state.threshold;
    }

    /// @notice The nonce the next `SignerSetChange` must carry.
    function signerSetNonce() external view returns (uint64) {
        return _signerSetNonce;
    }

    /// @notice The current signers, strictly ascending.
    function signers() external view returns (address[] memory list) {
        State memory st = _state;
        bytes memory packed = _loadSigners(st.signerData, st.signerCount);
        list = new address[](st.signerCount);
        for (uint256 i = 0; i < st.signerCount; ++i) {
            list[i] = _signerAt(packed, i);
        }
    }

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    // --------------------------------------------------------------------------------- internals

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this))
        );
    }

    function _hashTypedData(bytes32 structHash) private view returns (bytes32 digest) {
        bytes32 separator = domainSeparator();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// @dev Reverts unless `signatures` holds at least `st.threshold` valid signatures of `digest`
    ///      by distinct current signers, ordered by signer address strictly ascending.
    function _verifyQuorum(bytes32 digest, bytes calldata signatures, State memory st) private view {
        uint256 length = signatures.length;
        if (length % _SIG_LENGTH != 0) revert MalformedSignatures(length);
        uint256 count = length / _SIG_LENGTH;
        if (count < st.threshold) revert NotEnoughSignatures(count, st.threshold);

        bytes memory set = _loadSigners(st.signerData, st.signerCount);
        uint256 n = st.signerCount;
        uint256 j = 0;
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            address signer = _recover(digest, signatures, i);
            if (signer <= previous) {
                if (signer == previous) revert DuplicateSigner(i, signer);
                revert SignersNotAscending(i, signer);
            }
            // Both lists are ascending: a merge walk checks membership in O(n + count).
            while (j < n && _signerAt(set, j) < signer) ++j;
            if (j == n || _signerAt(set, j) != signer) revert NotASigner(i, signer);
            ++j;
            previous = signer;
        }
    }

    function _recover(bytes32 digest, bytes calldata signatures, uint256 i)
        private
        view
        returns (address signer)
    {
        bytes32 r;
        uint256 s;
        uint8 v;
        assembly ("memory-safe") {
            let off := add(signatures.offset, mul(i, 65))
            r := calldataload(off)
            s := calldataload(add(off, 0x20))
            v := byte(0, calldataload(add(off, 0x40)))
        }
        if (v != 27 && v != 28) revert InvalidSignatureV(i, v);
        if (s > _HALF_ORDER) revert HighS(i);
        bool ok;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, digest)
            mstore(add(ptr, 0x20), v)
            mstore(add(ptr, 0x40), r)
            mstore(add(ptr, 0x60), s)
            mstore(0x00, 0)
            ok := staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20)
            signer := mload(0x00)
        }
        if (!ok || signer == address(0)) revert InvalidSignature(i);
    }

    function _loadSigners(address data, uint256 n) private view returns (bytes memory packed) {
        packed = new bytes(n * 20);
        assembly ("memory-safe") {
            extcodecopy(data, add(packed, 0x20), 1, mul(n, 20))
        }
    }

    function _signerAt(bytes memory packed, uint256 j) private pure returns (address a) {
        assembly ("memory-safe") {
            a := shr(96, mload(add(add(packed, 0x20), mul(j, 20))))
        }
    }

    /// @dev Validates the set and writes it as the code of a fresh data contract (SSTORE2 layout:
    ///      a leading STOP byte, then the 20-byte addresses).
    function _setSigners(address[] memory list, uint8 threshold_) private {
        uint256 n = list.length;
        if (n == 0 || n > type(uint8).max) revert InvalidSignerSet(n);
        if (threshold_ == 0 || threshold_ > n) revert InvalidThreshold(threshold_, n);
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            if (list[i] <= previous) revert InvalidSignerSet(i);
            previous = list[i];
        }
        bytes memory creation = abi.encodePacked(
            // PUSH2 len, DUP1, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 0, RETURN; then the runtime.
            hex"61", uint16(1 + 20 * n), hex"80600c6000396000f3", hex"00"
        );
        for (uint256 i = 0; i < n; ++i) {
            creation = bytes.concat(creation, bytes20(list[i]));
        }
        address data;
        assembly ("memory-safe") {
            data := create(0, add(creation, 0x20), mload(creation))
        }
        if (data == address(0)) revert SignerDataDeployFailed();
        _state = State({
            latestEpoch: _state.latestEpoch, threshold: threshold_, signerCount: uint8(n), signerData: data
        });
    }
}
