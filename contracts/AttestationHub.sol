// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IAttestationHub} from "./interfaces/IAttestationHub.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IUptimeSlasher} from "./interfaces/IUptimeSlasher.sol";

/// @title AttestationHub
/// @notice Verifies oracle quorums over EIP-712 statements and forwards them: compute
///         attestations to the JobEscrow, uptime reports to the UptimeSlasher.
/// @dev The EIP-712 domain binds name "ComputeRails AttestationHub", version "1", the chain id
///      and this contract's address, so a quorum signed for one deployment or chain is void on
///      any other. Governance (GOVERNOR_ROLE) keeps the oracle set and threshold; anyone relays.
contract AttestationHub is IAttestationHub, AccessControl, EIP712 {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "ComputeAttestation(uint256 jobId,address provider,bool success,uint256 units,bytes32 resultHash,uint256 deadline)"
    );
    bytes32 public constant UPTIME_REPORT_TYPEHASH =
        keccak256("UptimeReport(address provider,uint256 epoch,uint256 uptimeBps)");

    uint256 internal constant SIGNATURE_LENGTH = 65;

    IJobEscrow public immutable escrow;
    IUptimeSlasher public immutable uptimeSlasher;

    /// @inheritdoc IAttestationHub
    uint256 public threshold;
    address[] internal _oracles;
    mapping(address oracle => uint256 indexPlusOne) internal _oracleIndex;

    /// @param escrow_ the JobEscrow; grant this contract ATTESTER_ROLE there
    /// @param slasher_ the UptimeSlasher; grant this contract REPORTER_ROLE there
    /// @param admin governance
    /// @param oracles_ the first oracle set
    /// @param threshold_ signatures needed, 1 .. oracles_.length
    constructor(
        IJobEscrow escrow_,
        IUptimeSlasher slasher_,
        address admin,
        address[] memory oracles_,
        uint256 threshold_
    ) EIP712("ComputeRails AttestationHub", "1") {
        if (address(escrow_) == address(0) || address(slasher_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        escrow = escrow_;
        uptimeSlasher = slasher_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        for (uint256 i; i < oracles_.length; ++i) {
            _addOracle(oracles_[i]);
        }
        _setThreshold(threshold_);
    }

    // ─────────────────────────────── relaying ───────────────────────────────

    /// @notice Relays a compute attestation signed by at least `threshold` oracles.
    /// @param attestation the signed statement
    /// @param signatures 65-byte signatures, concatenated, signers in strictly increasing order
    /// @custom:constraint anyone, until `attestation.deadline`; the job must be Accepted
    function submitAttestation(Attestation calldata attestation, bytes calldata signatures) external {
        checkAttestation(attestation, signatures);
        _record(attestation);
    }

    /// @notice Relays many attestations. An invalid item is skipped with AttestationSkipped
    ///         (carrying the revert data it hit) instead of reverting the batch.
    /// @return recorded how many attestations took effect
    /// @custom:constraint anyone
    function submitAttestations(Attestation[] calldata attestations, bytes[] calldata signatures)
        external
        returns (uint256 recorded)
    {
        uint256 n = attestations.length;
        if (n == 0) revert EmptyBatch();
        if (n != signatures.length) revert BatchLengthMismatch(n, signatures.length);
        for (uint256 i; i < n; ++i) {
            Attestation calldata a = attestations[i];
            try this.checkAttestation(a, signatures[i]) {}
            catch (bytes memory reason) {
                emit AttestationSkipped(a.jobId, reason);
                continue;
            }
            try escrow.recordAttestation(a.jobId, a.provider, a.success, a.units, a.resultHash) {
                ++recorded;
            } catch (bytes memory reason) {
                emit AttestationSkipped(a.jobId, reason);
            }
        }
    }

    /// @notice Relays an uptime report signed by at least `threshold` oracles.
    /// @custom:constraint anyone; the relayer receives a capped share of any slash
    function submitUptimeReport(UptimeReport calldata report, bytes calldata signatures) external {
        _verifyQuorum(uptimeReportDigest(report), signatures);
        uptimeSlasher.onUptimeReport(report.provider, report.epoch, report.uptimeBps, msg.sender);
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Adds an oracle key.
    /// @custom:constraint GOVERNOR_ROLE
    function addOracle(address oracle) external onlyRole(GOVERNOR_ROLE) {
        _addOracle(oracle);
    }

    /// @notice Removes an oracle key; its signatures stop counting at once.
    /// @custom:constraint GOVERNOR_ROLE; the threshold must stay <= the oracle count
    function removeOracle(address oracle) external onlyRole(GOVERNOR_ROLE) {
        uint256 indexPlusOne = _oracleIndex[oracle];
        if (indexPlusOne == 0) revert NotAnOracle(oracle);
        uint256 remaining = _oracles.length - 1;
        if (threshold > remaining) revert ThresholdOutOfRange(1, remaining, threshold);
        address last = _oracles[remaining];
        _oracles[indexPlusOne - 1] = last;
        _oracleIndex[last] = indexPlusOne;
        _oracles.pop();
        delete _oracleIndex[oracle];
        emit OracleRemoved(oracle, remaining);
    }

    /// @notice Sets how many distinct oracle signatures a submission needs.
    /// @custom:constraint GOVERNOR_ROLE; 1 .. oracle count
    function setThreshold(uint256 threshold_) external onlyRole(GOVERNOR_ROLE) {
        _setThreshold(threshold_);
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @notice Reverts with the reason a submission of this attestation would fail the quorum
    ///         check (expiry, signatures); returns nothing if it would pass.
    function checkAttestation(Attestation calldata attestation, bytes calldata signatures) public view {
        if (block.timestamp > attestation.deadline) {
            revert AttestationExpired(attestation.deadline, block.timestamp);
        }
        _verifyQuorum(attestationDigest(attestation), signatures);
    }

    /// @notice The EIP-712 digest oracles sign for a compute attestation.
    function attestationDigest(Attestation calldata a) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(ATTESTATION_TYPEHASH, a.jobId, a.provider, a.success, a.units, a.resultHash, a.deadline))
        );
    }

    /// @notice The EIP-712 digest oracles sign for an uptime report.
    function uptimeReportDigest(UptimeReport calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(UPTIME_REPORT_TYPEHASH, r.provider, r.epoch, r.uptimeBps)));
    }

    /// @notice The current oracle set.
    function oracles() external view returns (address[] memory) {
        return _oracles;
    }

    /// @notice Whether `account` is a current oracle.
    function isOracle(address account) external view returns (bool) {
        return _oracleIndex[account] != 0;
    }

    /// @notice The EIP-712 domain separator (for off-chain digest checks).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ─────────────────────────────── internals ───────────────────────────────

    function _record(Attestation calldata a) internal {
        escrow.recordAttestation(a.jobId, a.provider, a.success, a.units, a.resultHash);
    }

    /// @dev Reverts unless `signatures` holds at least `threshold` valid signatures over `digest`
    ///      from distinct current oracles in strictly increasing address order.
    function _verifyQuorum(bytes32 digest, bytes calldata signatures) internal view {
        uint256 length = signatures.length;
        if (length % SIGNATURE_LENGTH != 0) revert SignatureLengthInvalid(length);
        uint256 count = length / SIGNATURE_LENGTH;
        if (count < threshold) revert InsufficientSignatures(threshold, count);
        address previous = address(0);
        for (uint256 i; i < count; ++i) {
            uint256 o = i * SIGNATURE_LENGTH;
            bytes32 r = bytes32(signatures[o:o + 32]);
            bytes32 s = bytes32(signatures[o + 32:o + 64]);
            uint8 v = uint8(signatures[o + 64]);
            // tryRecover rejects high-s signatures and never returns address(0) without an error.
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (signer <= previous) revert SignersNotAscending(previous, signer);
            if (_oracleIndex[signer] == 0) revert SignerNotOracle(signer);
            previous = signer;
        }
    }

    function _addOracle(address oracle) internal {
        if (oracle == address(0)) revert ZeroAddress();
        if (_oracleIndex[oracle] != 0) revert OracleAlreadyAdded(oracle);
        _oracles.push(oracle);
        _oracleIndex[oracle] = _oracles.length;
        emit OracleAdded(oracle, _oracles.length);
    }

    function _setThreshold(uint256 threshold_) internal {
        uint256 n = _oracles.length;
        if (threshold_ == 0 || threshold_ > n) revert ThresholdOutOfRange(1, n, threshold_);
        threshold = threshold_;
        emit ThresholdSet(threshold_);
    }
}
