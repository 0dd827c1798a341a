// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IAttestationHub
/// @notice Oracles sign EIP-712 statements off-chain; anyone relays a quorum of signatures here.
///         A compute attestation releases (or refunds) a job's payment; an uptime report can
///         slash a provider.
/// @dev Signatures are 65-byte (r, s, v) concatenated in strictly increasing signer order,
///      which rejects duplicates in one comparison per signer. Malleable (high-s) signatures,
///      signatures recovering to address(0), non-oracles and fewer than `threshold` signers are
///      rejected. Once-only is enforced downstream: a job takes one attestation, a
///      (provider, epoch) one report.
///
///      Every statement carries the oracle configuration version it was signed under, as
///      Chainlink OCR binds reports to its config digest: adding or removing an oracle and
///      changing the threshold each bump `configVersion`, and signatures made under an earlier
///      version are refused with StaleOracleConfig, so a lowered threshold or a re-added key never
///      revives old signatures.
interface IAttestationHub {
    /// @notice EIP-712 `ComputeAttestation`: a quorum states what a job's result was.
    struct Attestation {
        uint256 jobId;
        address provider;
        bool success; // the result matched the spec
        uint256 units; // units of work to pay for (success only)
        bytes32 resultHash; // hash of the checked result
        uint256 deadline; // the signatures are void after this unix time
        uint256 configVersion; // the oracle configuration the signers were under
    }

    /// @notice EIP-712 `UptimeReport`: a quorum states a provider's uptime in a past epoch.
    struct UptimeReport {
        address provider;
        uint256 epoch;
        uint256 uptimeBps; // 0 .. 10_000
        address relayer; // earns the relayer reward of any slash, whoever submits (0: nobody)
        uint256 configVersion; // the oracle configuration the signers were under
    }

    event OracleAdded(address indexed oracle, uint256 oracleCount);
    event OracleRemoved(address indexed oracle, uint256 oracleCount);
    event ThresholdSet(uint256 threshold);
    /// @notice The oracle set or threshold changed: signatures made under earlier versions are void.
    event OracleConfigChanged(uint256 configVersion, uint256 oracleCount, uint256 threshold);
    /// @notice submitAttestations passed over an item; `reason` is the revert data it hit.
    event AttestationSkipped(uint256 indexed jobId, bytes reason);

    // Shared errors this contract also reverts with (ZeroAddress, EmptyBatch) are declared once in
    // libraries/Errors.sol, which states the convention: expected or bound first, actual last.
    error OracleAlreadyAdded(address oracle);
    error NotAnOracle(address account);
    /// @notice The threshold must lie in [1, oracle count].
    /// @param value the threshold asked for (or the current one, when removing an oracle would
    ///        leave fewer oracles than it)
    error ThresholdOutOfRange(uint256 min, uint256 max, uint256 value);
    error SignatureLengthInvalid(uint256 length);
    error InsufficientSignatures(uint256 required, uint256 provided);
    error InvalidSignature(uint256 index);
    error SignersNotAscending(address previous, address signer);
    error SignerNotOracle(address signer);
    error AttestationExpired(uint256 deadline, uint256 nowTime);
    error BatchLengthMismatch(uint256 attestations, uint256 signatures);
    /// @notice The statement was signed under an earlier oracle configuration.
    error StaleOracleConfig(uint256 current, uint256 signed);

    function submitAttestation(Attestation calldata attestation, bytes calldata signatures) external;
    function submitAttestations(
        Attestation[] calldata attestations,
        bytes[] calldata signatures
    ) external returns (uint256 recorded);
    function submitUptimeReport(UptimeReport calldata report, bytes calldata signatures) external;

    function attestationDigest(Attestation calldata attestation) external view returns (bytes32);
    function uptimeReportDigest(UptimeReport calldata report) external view returns (bytes32);
    function checkAttestation(Attestation calldata attestation, bytes calldata signatures) external view;
    function verifyQuorum(bytes32 digest, bytes calldata signatures, uint256 signedConfigVersion) external view;
    function oracles() external view returns (address[] memory);
    function isOracle(address account) external view returns (bool);
    function threshold() external view returns (uint256);
    function configVersion() external view returns (uint256);
}
