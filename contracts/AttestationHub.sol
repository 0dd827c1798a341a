// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IAttestationHub} from "./interfaces/IAttestationHub.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IUptimeSlasher} from "./interfaces/IUptimeSlasher.sol";
import {EmptyBatch, ZeroAddress} from "./libraries/Errors.sol";

/// @title AttestationHub
/// @notice Verifies oracle quorums over EIP-712 statements and forwards them: compute
///         attestations to the JobEscrow, uptime reports to the UptimeSlasher.
/// @dev The EIP-712 domain binds name "ComputeRails AttestationHub", version "2", the chain id
///      and this contract's address, so a quorum signed for one deployment or chain is void on
///      any other; each statement binds the oracle configuration version it was signed under.
///      Governance (GOVERNOR_ROLE) keeps the oracle set and threshold; anyone relays.
contract AttestationHub is IAttestationHub, AccessControl, EIP712 {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "ComputeAttestation(uint256 jobId,address provider,bool success,uint256 units,bytes32 resultHash,uint256 deadline,uint256 configVersion)"
    );
    bytes32 public constant UPTIME_REPORT_TYPEHASH = keccak256(
        "UptimeReport(address provider,uint256 epoch,uint256 uptimeBps,address relayer,uint256 configVersion)"
    );

    uint256 internal constant SIGNATURE_LENGTH = 65;

    IJobEscrow public immutable escrow;
    IUptimeSlasher public immutable uptimeSlasher;

    // One slot: both are read by every quorum check.
    uint128 internal _threshold; // signatures a quorum needs
    uint128 internal _configVersion; // bumped by every change of the oracle set or threshold
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
    ) EIP712("ComputeRails AttestationHub", "2") {
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
        _configVersion = 1;
        emit OracleConfigChanged(1, _oracles.length, threshold_);
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
    function submitAttestations(
        Attestation[] calldata attestations,
        bytes[] calldata signatures
    ) external returns (uint256 recorded) {
        uint256 n = attestations.length;
        if (n == 0) revert EmptyBatch();
        if (n != signatures.length) revert BatchLengthMismatch(n, signatures.length);
        for (uint256 i; i < n; ++i) {
            Attestation calldata a = attestations[i];
            try this.checkAttestation(a, signatures[i]) {} catch (bytes memory reason) {
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
    /// @dev The relayer reward of any slash goes to `report.relayer`, the relayer the oracles
    ///      named, whoever submits: copying a report from the mempool earns nothing.
    /// @custom:constraint anyone
    function submitUptimeReport(UptimeReport calldata report, bytes calldata signatures) external {
        _requireCurrentConfig(report.configVersion);
        _verifyQuorum(uptimeReportDigest(report), signatures);
        uptimeSlasher.onUptimeReport(report.provider, report.epoch, report.uptimeBps, report.relayer);
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Adds an oracle key.
    /// @custom:constraint GOVERNOR_ROLE
    function addOracle(address oracle) external onlyRole(GOVERNOR_ROLE) {
        _addOracle(oracle);
        _bumpConfig();
    }

    /// @notice Removes an oracle key; its signatures stop counting at once.
    /// @custom:constraint GOVERNOR_ROLE; the threshold must stay <= the oracle count
    function removeOracle(address oracle) external onlyRole(GOVERNOR_ROLE) {
        uint256 indexPlusOne = _oracleIndex[oracle];
        if (indexPlusOne == 0) revert NotAnOracle(oracle);
        uint256 remaining = _oracles.length - 1;
        if (_threshold > remaining) revert ThresholdOutOfRange(1, remaining, _threshold);
        address last = _oracles[remaining];
        _oracles[indexPlusOne - 1] = last;
        _oracleIndex[last] = indexPlusOne;
        _oracles.pop();
        delete _oracleIndex[oracle];
        emit OracleRemoved(oracle, remaining);
        _bumpConfig();
    }

    /// @notice Sets how many distinct oracle signatures a submission needs.
    /// @custom:constraint GOVERNOR_ROLE; 1 .. oracle count
    function setThreshold(uint256 threshold_) external onlyRole(GOVERNOR_ROLE) {
        _setThreshold(threshold_);
        _bumpConfig();
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @notice Reverts with the reason a submission of this attestation would fail the quorum
    ///         check (expiry, signatures); returns nothing if it would pass.
    function checkAttestation(Attestation calldata attestation, bytes calldata signatures) public view {
        if (block.timestamp > attestation.deadline) {
            revert AttestationExpired(attestation.deadline, block.timestamp);
        }
        _requireCurrentConfig(attestation.configVersion);
        _verifyQuorum(attestationDigest(attestation), signatures);
    }

    /// @notice Reverts unless `signatures` hold a quorum of the current oracles over `digest`,
    ///         signed under the current configuration. For contracts that verify statements of
    ///         their own (the MeteredEscrow's fraud attestations, in its EIP-712 domain).
    function verifyQuorum(bytes32 digest, bytes calldata signatures, uint256 signedConfigVersion) external view {
        _requireCurrentConfig(signedConfigVersion);
        _verifyQuorum(digest, signatures);
    }

    /// @notice The EIP-712 digest oracles sign for a compute attestation.
    function attestationDigest(Attestation calldata a) public view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        ATTESTATION_TYPEHASH,
                        a.jobId,
                        a.provider,
                        a.success,
                        a.units,
                        a.resultHash,
                        a.deadline,
                        a.configVersion
                    )
                )
            );
    }

    /// @notice The EIP-712 digest oracles sign for an uptime report.
    function uptimeReportDigest(UptimeReport calldata r) public view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(UPTIME_REPORT_TYPEHASH, r.provider, r.epoch, r.uptimeBps, r.relayer, r.configVersion)
                )
            );
    }

    /// @notice Signatures a quorum needs.
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @notice The oracle configuration version statements must be signed under now.
    function configVersion() external view returns (uint256) {
        return _configVersion;
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
        uint256 k = _threshold;
        if (count < k) revert InsufficientSignatures(k, count);
        address previous = address(0);
        for (uint256 i; i < count; ++i) {
            uint256 o = i * SIGNATURE_LENGTH;
            bytes32 r = bytes32(signatures[o:o + 32]);
            bytes32 s = bytes32(signatures[o + 32:o + 64]);
            uint8 v = uint8(signatures[o + 64]);
            // tryRecover rejects high-s signatures and never returns address(0) without an error.
            (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, v, r, s);
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
        _threshold = uint128(threshold_); // fits: threshold_ <= n
        emit ThresholdSet(threshold_);
    }

    function _requireCurrentConfig(uint256 signed) internal view {
        uint256 current = _configVersion;
        if (signed != current) revert StaleOracleConfig(current, signed);
    }

    /// @dev Every change of the oracle set or threshold voids signatures made before it.
    function _bumpConfig() internal {
        uint256 version = uint256(_configVersion) + 1;
        _configVersion = uint128(version);
        emit OracleConfigChanged(version, _oracles.length, _threshold);
    }
}
