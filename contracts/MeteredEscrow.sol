// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IAttestationHub} from "./interfaces/IAttestationHub.sol";
import {IMeteredEscrow} from "./interfaces/IMeteredEscrow.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {
    EmptyBatch,
    BpsOutOfRange,
    FeeOutOfRange,
    NothingToWithdraw,
    TokenNotAllowed,
    ZeroAddress,
    ZeroAmount
} from "./libraries/Errors.sol";
import {TokenTransfers} from "./libraries/TokenTransfers.sol";

/// @title MeteredEscrow
/// @notice Pay per request: payers escrow tokens per provider and sign cumulative vouchers off
///         chain; providers collect the difference on chain, net of a protocol fee.
/// @dev See {IMeteredEscrow} and docs/METERED.md for the state machines and the accounting
///      invariant. Payouts are pull payments: collections credit claimable balances (providers)
///      and per-token fee totals (the treasury), and `claim` sends them. Each collection locks
///      `gross × stakeRatio` of the provider's free stake in ProviderStaking until its dispute
///      window has passed; a fraud attestation over a response receipt the provider signed,
///      signed by a quorum of the AttestationHub's oracles, slashes it. Pausing stops money coming in (deposits, new signers); collections, thaws,
///      withdrawals, signer revocation and claims go on, as settlement does in JobEscrow.
contract MeteredEscrow is IMeteredEscrow, AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice May change parameters and the payment-token allowlist.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice May pause deposits and signer authorizations (the guardian).
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The EIP-712 type of a voucher. The SDK signs exactly this; never change it.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(address payer,address provider,address token,bytes32 collectionId,uint128 valueAggregate,uint64 requestCount,uint64 timestamp,bytes32 metadata)"
    );
    /// @notice The EIP-712 type of a provider's countersigned answer to one request.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "ResponseReceipt(address payer,address provider,address token,bytes32 collectionId,uint64 requestIndex,bytes32 requestHash,bytes32 responseHash,uint64 units)"
    );
    /// @notice The EIP-712 type oracles sign to attest that a receipt's answer is wrong.
    bytes32 public constant FRAUD_ATTESTATION_TYPEHASH = keccak256(
        "FraudAttestation(bytes32 receiptDigest,bytes32 recomputedResponseHash,uint256 deadline,uint256 configVersion)"
    );
    /// @notice The EIP-712 type a signer key signs to consent to signing for `payer`.
    bytes32 public constant SIGNER_PROOF_TYPEHASH = keccak256(
        "SignerProof(address payer,address signer,uint256 deadline)"
    );

    /// @notice Hard cap on the protocol fee: 10%.
    uint256 public constant MAX_FEE_BPS = 1_000;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MIN_WINDOW = 1 minutes;
    uint256 internal constant MAX_WINDOW = 30 days;
    uint256 internal constant MAX_THAW_PERIOD = 90 days;
    uint256 internal constant WAD = 1e18;

    struct Account {
        // slot 0: everything a collection reads and writes
        uint128 balance; // deposits − collections − withdrawals
        uint128 thawing; // withdrawable from thawEnd on; never above balance
        // slot 1: written by thaw and withdraw only
        uint64 thawEnd; // when the current thaw ends (0: none)
    }

    struct Collection {
        uint128 collected; // gross paid so far; never above the highest valueAggregate signed
        uint16 feeBps; // protocol fee fixed at the first collection
        bool started; // feeBps and the fraud terms are set
        uint72 fraudFloor; // the lowest request index a fraud attestation may still punish
        uint16 fraudPenaltyBps; // fraud terms fixed at the first collection, like the fee
        uint16 fraudPayerShareBps;
    }

    /// @dev One slot: collect reads the ratio and adds its fee.
    struct PaymentToken {
        bool allowed; // deposits accepted
        uint120 stakeRatio; // stake units locked per payment unit collected, scaled by 1e18
        uint128 fees; // protocol fees not yet claimed by the treasury
    }

    /// @dev Stake locked by a provider's collections, in two buckets by release time: every
    ///      collection adds to the bucket released at the second window boundary after it, so
    ///      each lock is held for at least `disputeWindow` and at most twice that. One slot.
    struct StakeLock {
        uint96 current; // the bucket of the latest collections
        uint32 currentRelease; // when `current` may be released
        uint96 previous; // the bucket before it
        uint32 previousRelease; // when `previous` may be released
    }

    struct Signer {
        address payer; // the only payer this key ever signs for
        uint64 thawEnd; // revocation possible from then on (0: not thawing)
        bool revoked; // final
    }

    // These parameters share the slot of Pausable's `_paused` flag: a collection reads the
    // dispute window (its stake lock) and, for a new collection, the fee in one cold read.
    /// @notice Seconds between a provider's collections that payers should expect (SDK policy;
    ///         part of the bound on the thawing periods).
    uint32 public collectionInterval;
    /// @notice Seconds a collection's stake stays locked (at least; at most twice that) for
    ///         fraud disputes; part of the bound on the thawing periods.
    uint32 public disputeWindow;
    /// @notice Seconds between a payer's thaw and its withdrawal.
    uint32 public thawPeriod;
    /// @notice Seconds between a signer's thaw and its revocation.
    uint32 public signerThawPeriod;
    /// @notice Protocol fee in basis points for collections that start now, at most MAX_FEE_BPS.
    uint16 public feeBps;
    /// @notice Share of a fraudulent provider's backing stake (its collections' lock + free
    ///         stake) that a fraud attestation slashes, in basis points (1 .. 10,000), for
    ///         collections that start now.
    uint16 public fraudPenaltyBps;
    /// @notice Share of a fraud slash the wronged payer receives, in basis points (0 .. 10,000),
    ///         for collections that start now.
    uint16 public fraudPayerShareBps;

    /// @notice Receives protocol fees (all unclaimed fees, whenever they were collected).
    address public treasury;

    /// @notice Where providers' stake is locked and slashed.
    IProviderStaking public immutable staking;
    /// @notice Whose oracle set and threshold sign fraud attestations.
    IAttestationHub public immutable attestationHub;

    mapping(address token => PaymentToken) internal _paymentTokens;
    mapping(address payer => mapping(address provider => mapping(address token => Account))) internal _accounts;
    mapping(address payer => mapping(address provider => mapping(address token => mapping(bytes32 collectionId => Collection))))
        internal _collections;
    mapping(address signer => Signer) internal _signers;
    mapping(address account => mapping(address token => uint256)) internal _claimable;
    mapping(address provider => StakeLock) internal _stakeLocks;

    /// @notice Default parameters, documented in the README.
    struct InitParams {
        uint256 feeBps;
        uint256 collectionInterval;
        uint256 disputeWindow;
        uint256 thawPeriod;
        uint256 signerThawPeriod;
        uint256 fraudPenaltyBps;
        uint256 fraudPayerShareBps;
    }

    /// @param admin governance: receives the admin, governor and pauser roles
    /// @param treasury_ receives protocol fees
    /// @param staking_ ProviderStaking; grant this contract COLLATERAL_MANAGER_ROLE there
    /// @param hub_ the AttestationHub whose oracles sign fraud attestations
    constructor(
        address admin,
        address treasury_,
        IProviderStaking staking_,
        IAttestationHub hub_,
        InitParams memory p
    ) EIP712("ComputeRails MeteredEscrow", "1") {
        if (admin == address(0) || address(staking_) == address(0) || address(hub_) == address(0)) {
            revert ZeroAddress();
        }
        staking = staking_;
        attestationHub = hub_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _setTreasury(treasury_);
        _setFee(p.feeBps);
        _setPeriods(p.collectionInterval, p.disputeWindow, p.thawPeriod, p.signerThawPeriod);
        _setFraudTerms(p.fraudPenaltyBps, p.fraudPayerShareBps);
    }

    // ─────────────────────────────── payers ───────────────────────────────

    /// @notice Adds `amount` of `token` to the caller's account for `provider`.
    /// @dev Approve `amount` to this contract first. Reverts with TransferAmountMismatch for
    ///      tokens that deliver less than requested. Changes no thaw.
    /// @param provider who may collect vouchers against this account
    /// @param token an allowlisted payment token
    /// @param amount token units to add (at least 1)
    /// @custom:constraint anyone, while not paused
    function deposit(address provider, address token, uint256 amount) external nonReentrant whenNotPaused {
        _deposit(msg.sender, provider, token, amount);
        TokenTransfers.pullExact(IERC20(token), amount);
    }

    /// @notice Like deposit, with an EIP-2612 permit for `amount` instead of an approval.
    /// @dev A permit that fails (e.g. front-run and already used) is ignored; the transfer then
    ///      succeeds only if the allowance is there anyway.
    /// @custom:constraint anyone, while not paused
    function depositWithPermit(
        address provider,
        address token,
        uint256 amount,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant whenNotPaused {
        _deposit(msg.sender, provider, token, amount);
        try IERC20Permit(token).permit(msg.sender, address(this), amount, permitDeadline, v, r, s) {} catch {}
        TokenTransfers.pullExact(IERC20(token), amount);
    }

    /// @notice Adds `amount` of the caller's `token` to `payer`'s account for `provider`.
    /// @dev The caller pays; the payer owns the funds. Changes none of the account's timers.
    /// @custom:constraint anyone, while not paused
    function depositFor(
        address payer,
        address provider,
        address token,
        uint256 amount
    ) external nonReentrant whenNotPaused {
        if (payer == address(0)) revert ZeroAddress();
        _deposit(payer, provider, token, amount);
        TokenTransfers.pullExact(IERC20(token), amount);
    }

    /// @notice Starts a thaw of `amount`, replacing any thaw in progress (whose clock restarts);
    ///         `amount` 0 cancels the thaw.
    /// @dev Collections keep drawing on the whole balance while it thaws; the thawing amount
    ///      shrinks to the balance a collection leaves.
    /// @return thawEnd when `withdraw` becomes possible (0 when cancelled)
    /// @custom:constraint the payer; at most the account's balance; works while paused
    function thaw(address provider, address token, uint256 amount) external returns (uint256 thawEnd) {
        Account storage a = _accounts[msg.sender][provider][token];
        uint256 balance = a.balance;
        if (amount > balance) revert ThawAmountTooLarge(balance, amount);
        if (amount == 0) {
            (a.thawing, a.thawEnd) = (0, 0);
            emit EscrowThawCancelled(msg.sender, provider, token);
            return 0;
        }
        thawEnd = block.timestamp + thawPeriod;
        (a.thawing, a.thawEnd) = (uint128(amount), uint64(thawEnd));
        emit EscrowThawStarted(msg.sender, provider, token, amount, thawEnd);
    }

    /// @notice Sends the caller what has thawed in its account for `provider`.
    /// @return amount what was sent: the thawing amount, as collections left it
    /// @custom:constraint the payer, from the thaw's end on; works while paused
    function withdraw(address provider, address token) external nonReentrant returns (uint256 amount) {
        Account storage a = _accounts[msg.sender][provider][token];
        amount = a.thawing;
        uint256 end = a.thawEnd;
        if (amount == 0) revert NotThawing(msg.sender, provider, token);
        if (block.timestamp < end) revert ThawNotElapsed(end, block.timestamp);
        uint256 balance = a.balance - amount;
        (a.balance, a.thawing, a.thawEnd) = (uint128(balance), 0, 0);
        emit EscrowWithdrawn(msg.sender, provider, token, amount, balance);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    /// @notice Lets `signer` sign vouchers for the caller.
    /// @dev `proof` is the signer's EIP-712 signature of SignerProof(payer, signer, deadline)
    ///      under this contract's domain (see `signerProofDigest`): bound to chain id, this
    ///      contract, the payer and a deadline. A key serves one payer for life.
    /// @custom:constraint the payer, with the signer's proof, by `deadline`, while not paused
    function authorizeSigner(address signer, uint256 deadline, bytes calldata proof) external whenNotPaused {
        if (signer == address(0)) revert ZeroAddress();
        if (block.timestamp > deadline) revert SignerProofExpired(deadline, block.timestamp);
        address bound = _signers[signer].payer;
        if (bound != address(0)) revert SignerAlreadyAuthorized(signer, bound);
        bytes32 digest = _signerProofDigest(msg.sender, signer, deadline);
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, proof);
        if (err != ECDSA.RecoverError.NoError || recovered != signer) revert InvalidSignerProof(signer, recovered);
        _signers[signer] = Signer({payer: msg.sender, thawEnd: 0, revoked: false});
        emit SignerAuthorized(msg.sender, signer);
    }

    /// @notice Starts the signer's thawing period; its vouchers keep paying until `revokeSigner`.
    ///         Thawing again restarts the clock.
    /// @return thawEnd when `revokeSigner` becomes possible
    /// @custom:constraint the signer's payer, until revoked; works while paused
    function thawSigner(address signer) external returns (uint256 thawEnd) {
        Signer storage s = _requireOwnSigner(signer);
        thawEnd = block.timestamp + signerThawPeriod;
        s.thawEnd = uint64(thawEnd);
        emit SignerThawStarted(msg.sender, signer, thawEnd);
    }

    /// @notice Stops a signer's thaw: it stays authorized.
    /// @custom:constraint the signer's payer, while the signer thaws
    function cancelSignerThaw(address signer) external {
        Signer storage s = _requireOwnSigner(signer);
        if (s.thawEnd == 0) revert SignerNotThawing(signer);
        s.thawEnd = 0;
        emit SignerThawCancelled(msg.sender, signer);
    }

    /// @notice Revokes a signer for good: from now on its vouchers pay nothing, whenever signed.
    /// @custom:constraint the signer's payer, from the end of the signer's thaw on
    function revokeSigner(address signer) external {
        Signer storage s = _requireOwnSigner(signer);
        uint256 end = s.thawEnd;
        if (end == 0) revert SignerNotThawing(signer);
        if (block.timestamp < end) revert SignerThawNotElapsed(end, block.timestamp);
        s.revoked = true;
        emit SignerRevoked(msg.sender, signer);
    }

    // ─────────────────────────────── providers ───────────────────────────────

    /// @notice Collects a voucher: pays `valueAggregate − collected` of its collection, limited
    ///         to the account's balance, net of the collection's fee, to the caller's claimable,
    ///         and locks `gross × stakeRatio` of the caller's free stake for the dispute window.
    /// @dev A partial collection records what it paid: the same voucher collects the rest after
    ///      a top-up. Works during the payer's thaw and while paused. Releases the caller's
    ///      expired stake locks first; reverts with ProviderStaking's InsufficientFreeStake when
    ///      free stake cannot back the payment.
    /// @param voucher the latest voucher of the collection
    /// @param signature its 65-byte signature by the payer or one of its signers (low s)
    /// @return gross what the account paid (provider net + fee)
    /// @custom:constraint the voucher's provider
    function collect(Voucher calldata voucher, bytes calldata signature) external nonReentrant returns (uint256 gross) {
        StakeLock memory l = _stakeLocks[msg.sender];
        uint256 released = _releaseExpired(l);
        bytes memory failure;
        uint256 lockAmount;
        // ProviderStaking checks free stake itself (same error, same figures as collectMany's).
        (failure, gross, lockAmount) = _collect(voucher, signature, type(uint256).max);
        if (failure.length != 0) _revertWith(failure);
        _settleLocks(msg.sender, l, released, lockAmount);
    }

    /// @notice Collects every voucher it can and skips the others with `VoucherSkipped`, whose
    ///         reason is the revert data `collect` would have given.
    /// @return collected how many vouchers paid
    /// @return gross what they paid in all (summed across tokens: a count, not an amount, when
    ///         tokens differ)
    /// @custom:constraint anyone; each voucher pays only if the caller is its provider
    function collectMany(
        Voucher[] calldata vouchers,
        bytes[] calldata signatures
    ) external nonReentrant returns (uint256 collected, uint256 gross) {
        uint256 n = vouchers.length;
        if (n == 0) revert EmptyBatch();
        if (signatures.length != n) revert VoucherBatchLengthMismatch(n, signatures.length);
        // Every voucher that pays is the caller's: one stake lock, one call to ProviderStaking.
        StakeLock memory l = _stakeLocks[msg.sender];
        uint256 released = _releaseExpired(l);
        uint256 lockable = staking.lockable(msg.sender, released);
        uint256 lockTotal = 0;
        for (uint256 i; i < n; ++i) {
            (bytes memory failure, uint256 paid, uint256 lockAmount) = _collect(
                vouchers[i],
                signatures[i],
                lockable - lockTotal
            );
            if (failure.length != 0) {
                emit VoucherSkipped(i, vouchers[i].payer, vouchers[i].collectionId, failure);
                continue;
            }
            ++collected;
            gross += paid;
            lockTotal += lockAmount;
        }
        if (collected != 0 || released != 0) _settleLocks(msg.sender, l, released, lockTotal);
    }

    /// @notice Releases a provider's stake locks whose dispute window has passed (collections do
    ///         this on their own; this is for a provider that stopped collecting).
    /// @return released the stake released
    /// @custom:constraint anyone
    function releaseStake(address provider) external nonReentrant returns (uint256 released) {
        StakeLock memory l = _stakeLocks[provider];
        released = _releaseExpired(l);
        if (released == 0) revert NothingToRelease(provider);
        _settleLocks(provider, l, released, 0);
    }

    // ─────────────────────────────── fraud ───────────────────────────────

    /// @notice Punishes a provider's provably wrong answer. `a.receipt` is signed by the provider;
    ///         a quorum of the AttestationHub's oracles recomputed the request to
    ///         `a.recomputedResponseHash`, which differs from the answer it signed. Slashes
    ///         the collection's `fraudPenaltyBps` of its backing stake (this contract's lock, then
    ///         free stake), pays the payer the collection's `fraudPayerShareBps` of it (the rest to
    ///         the treasury), and jails the provider.
    /// @dev A receipt is punished at most once: per collection, attestations go in increasing
    ///      request order (`fraudFloor`), and each raises the floor past its request.
    /// @param signatures the oracles' signatures over `fraudAttestationDigest(a)`, 65 bytes each,
    ///        concatenated in increasing signer order (as the hub expects)
    /// @return slashed the stake slashed
    /// @return payerAmount what the payer can claim from ProviderStaking
    /// @custom:constraint anyone, until `a.deadline`
    function submitFraudAttestation(
        FraudAttestation calldata a,
        bytes calldata signatures
    ) external nonReentrant returns (uint256 slashed, uint256 payerAmount) {
        if (block.timestamp > a.deadline) revert FraudAttestationExpired(a.deadline, block.timestamp);
        ResponseReceipt calldata receipt = a.receipt;
        bytes32 digest = _receiptDigest(receipt);
        attestationHub.verifyQuorum(_fraudDigest(digest, a), signatures, a.configVersion);
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, a.providerSignature);
        if (err != ECDSA.RecoverError.NoError || signer != receipt.provider) {
            revert InvalidReceiptSignature(receipt.provider, signer);
        }
        if (a.recomputedResponseHash == receipt.responseHash) revert ResponseMatches(digest);
        Collection storage c = _collections[receipt.payer][receipt.provider][receipt.token][receipt.collectionId];
        Collection memory cm = c;
        if (receipt.requestIndex < cm.fraudFloor) {
            revert ReceiptAlreadyPunished(receipt.collectionId, cm.fraudFloor, receipt.requestIndex);
        }
        c.fraudFloor = uint72(uint256(receipt.requestIndex) + 1); // fits: requestIndex < 2^64
        // A collection keeps the fraud terms of its first collection; one never collected gets
        // today's.
        if (!cm.started) (cm.fraudPenaltyBps, cm.fraudPayerShareBps) = (fraudPenaltyBps, fraudPayerShareBps);
        StakeLock memory l = _stakeLocks[receipt.provider];
        uint256 fromLocked;
        (slashed, fromLocked, payerAmount) = staking.slashForFraud(
            receipt.provider,
            uint256(l.current) + l.previous,
            cm.fraudPenaltyBps,
            receipt.payer,
            cm.fraudPayerShareBps
        );
        if (fromLocked != 0) {
            // The older bucket goes first (it would be released first).
            uint256 fromPrevious = fromLocked < l.previous ? fromLocked : l.previous;
            l.previous -= uint96(fromPrevious); // fits: <= previous
            l.current -= uint96(fromLocked - fromPrevious); // fits: fromLocked <= current + previous
            if (l.previous == 0) l.previousRelease = 0;
            if (l.current == 0) l.currentRelease = 0;
            _stakeLocks[receipt.provider] = l;
        }
        emit FraudPunished(receipt.provider, receipt.payer, digest, receipt.requestIndex);
    }

    /// @notice Pays out everything the caller can claim in `token` (providers' net, the
    ///         treasury's fees), in one transfer.
    /// @return amount what was sent
    /// @custom:constraint anyone with a claimable balance; works while paused
    function claim(address token) external nonReentrant returns (uint256 amount) {
        amount = _claimable[msg.sender][token];
        uint256 fees = msg.sender == treasury ? _paymentTokens[token].fees : 0;
        if (amount + fees == 0) revert NothingToWithdraw(msg.sender, token);
        if (amount != 0) _claimable[msg.sender][token] = 0;
        if (fees != 0) _paymentTokens[token].fees = 0;
        amount += fees;
        emit Claimed(msg.sender, token, amount);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Allows or disallows a payment token and sets the stake its collections lock.
    ///         Disallowing stops deposits only: balances stay collectable and withdrawable.
    /// @param stakeRatio staking-token units locked per payment-token unit collected, scaled by
    ///        1e18 (it carries the decimal gap between the two tokens)
    /// @custom:constraint GOVERNOR_ROLE; stakeRatio in 1 .. 2^120-1
    function setPaymentToken(address token, bool allowed, uint256 stakeRatio) external onlyRole(GOVERNOR_ROLE) {
        if (token == address(0)) revert ZeroAddress();
        if (stakeRatio == 0 || stakeRatio > type(uint120).max) {
            revert StakeRatioOutOfRange(1, type(uint120).max, stakeRatio);
        }
        PaymentToken storage t = _paymentTokens[token];
        (t.allowed, t.stakeRatio) = (allowed, uint120(stakeRatio));
        emit PaymentTokenSet(token, allowed, stakeRatio);
    }

    /// @notice Sets the fraud penalty (share of the provider's backing stake) and the wronged
    ///         payer's share of it.
    /// @custom:constraint GOVERNOR_ROLE; penalty 1 .. 10,000 bps, payer share 0 .. 10,000 bps
    function setFraudTerms(uint256 penaltyBps, uint256 payerShareBps) external onlyRole(GOVERNOR_ROLE) {
        _setFraudTerms(penaltyBps, payerShareBps);
    }

    /// @notice Sets the protocol fee for collections that start from now on; started
    ///         collections keep theirs.
    /// @custom:constraint GOVERNOR_ROLE; at most MAX_FEE_BPS
    function setFee(uint256 feeBps_) external onlyRole(GOVERNOR_ROLE) {
        _setFee(feeBps_);
    }

    /// @notice Sets the collection interval, dispute window and both thawing periods. Running
    ///         thaws keep the end they got.
    /// @custom:constraint GOVERNOR_ROLE; interval and window in 1 minute .. 30 days; each thawing
    ///         period above interval + window and at most 90 days
    function setPeriods(
        uint256 collectionInterval_,
        uint256 disputeWindow_,
        uint256 thawPeriod_,
        uint256 signerThawPeriod_
    ) external onlyRole(GOVERNOR_ROLE) {
        _setPeriods(collectionInterval_, disputeWindow_, thawPeriod_, signerThawPeriod_);
    }

    /// @notice Sets who receives protocol fees from now on.
    /// @custom:constraint GOVERNOR_ROLE
    function setTreasury(address treasury_) external onlyRole(GOVERNOR_ROLE) {
        _setTreasury(treasury_);
    }

    /// @notice Stops deposits and signer authorizations. Collections and exits go on.
    /// @custom:constraint PAUSER_ROLE
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes deposits and signer authorizations.
    /// @custom:constraint PAUSER_ROLE
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @notice The EIP-712 digest a voucher's signer signs (for checking an SDK against).
    function voucherDigest(Voucher calldata voucher) external view returns (bytes32) {
        return _voucherDigest(voucher);
    }

    /// @notice The EIP-712 digest a provider signs for a response receipt.
    function receiptDigest(ResponseReceipt calldata receipt) external view returns (bytes32) {
        return _receiptDigest(receipt);
    }

    /// @notice The EIP-712 digest oracles sign for a fraud attestation.
    function fraudAttestationDigest(FraudAttestation calldata a) external view returns (bytes32) {
        return _fraudDigest(_receiptDigest(a.receipt), a);
    }

    /// @notice The stake a provider's collections hold locked now, and how much of it a
    ///         collection or `releaseStake` would release now.
    function stakeLock(address provider) external view returns (StakeLockView memory v) {
        StakeLock memory l = _stakeLocks[provider];
        v.locked = uint256(l.current) + l.previous;
        v.current = l.current;
        v.currentRelease = l.currentRelease;
        v.previous = l.previous;
        v.previousRelease = l.previousRelease;
        v.releasable = _releaseExpired(l);
    }

    /// @notice The stake a collection of `gross` in `token` locks.
    function stakeFor(address token, uint256 gross) external view returns (uint256) {
        return _stakeFor(gross, _paymentTokens[token].stakeRatio);
    }

    /// @notice Staking-token units locked per payment-token unit collected, scaled by 1e18.
    function stakeRatio(address token) external view returns (uint256) {
        return _paymentTokens[token].stakeRatio;
    }

    /// @notice Protocol fees in `token` the treasury has not claimed yet.
    function feesAccrued(address token) external view returns (uint256) {
        return _paymentTokens[token].fees;
    }

    /// @notice The EIP-712 digest `signer` signs to consent to signing for `payer`.
    function signerProofDigest(address payer, address signer, uint256 deadline) external view returns (bytes32) {
        return _signerProofDigest(payer, signer, deadline);
    }

    /// @inheritdoc IMeteredEscrow
    function account(address payer, address provider, address token) external view returns (AccountView memory) {
        Account storage a = _accounts[payer][provider][token];
        return AccountView({balance: a.balance, thawing: a.thawing, thawEnd: a.thawEnd});
    }

    /// @inheritdoc IMeteredEscrow
    function collection(
        address payer,
        address provider,
        address token,
        bytes32 collectionId
    ) external view returns (CollectionView memory) {
        Collection memory c = _collections[payer][provider][token][collectionId];
        return
            CollectionView({
                collected: c.collected,
                feeBps: c.feeBps,
                started: c.started,
                fraudFloor: c.fraudFloor,
                fraudPenaltyBps: c.fraudPenaltyBps,
                fraudPayerShareBps: c.fraudPayerShareBps
            });
    }

    /// @inheritdoc IMeteredEscrow
    function signerInfo(address signer) external view returns (SignerView memory) {
        Signer memory s = _signers[signer];
        return SignerView({payer: s.payer, thawEnd: s.thawEnd, revoked: s.revoked});
    }

    /// @notice Whether a voucher of `payer` signed by `signer` would pass the signer check now.
    function isAuthorizedSigner(address payer, address signer) external view returns (bool) {
        if (signer == payer) return payer != address(0);
        Signer memory s = _signers[signer];
        return s.payer == payer && payer != address(0) && !s.revoked;
    }

    /// @inheritdoc IMeteredEscrow
    function claimable(address account_, address token) external view returns (uint256) {
        uint256 amount = _claimable[account_][token];
        if (account_ == treasury) amount += _paymentTokens[token].fees;
        return amount;
    }

    /// @notice Whether deposits in `token` are allowed.
    function paymentTokenAllowed(address token) external view returns (bool) {
        return _paymentTokens[token].allowed;
    }

    // ─────────────────────────────── internals ───────────────────────────────

    function _deposit(address payer, address provider, address token, uint256 amount) internal {
        if (provider == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (!_paymentTokens[token].allowed) revert TokenNotAllowed(token);
        Account storage a = _accounts[payer][provider][token];
        uint256 balance = a.balance + amount;
        if (balance > type(uint128).max) revert AccountBalanceTooLarge(type(uint128).max, balance);
        a.balance = uint128(balance);
        emit EscrowDeposited(payer, provider, token, msg.sender, amount, balance);
    }

    /// @dev Checks a voucher and, if it pays, applies the payment. Returns the revert data of the
    ///      first check that fails (and changes nothing), or empty bytes and the gross paid.
    ///      One path for collect and collectMany, so a skipped item's reason is exactly the
    ///      error collect reverts with.
    ///      `lockable` is the free stake left to back it (collectMany); `lockAmount` the stake
    ///      the payment locks.
    function _collect(
        Voucher calldata v,
        bytes calldata signature,
        uint256 lockable
    ) internal returns (bytes memory failure, uint256 gross, uint256 lockAmount) {
        if (msg.sender != v.provider) {
            return (abi.encodeWithSelector(NotVoucherProvider.selector, v.provider, msg.sender), 0, 0);
        }
        address signer;
        (failure, signer) = _checkSigner(v, signature);
        if (failure.length != 0) return (failure, 0, 0);
        Collection storage c = _collections[v.payer][v.provider][v.token][v.collectionId];
        uint256 collected = c.collected;
        if (v.valueAggregate <= collected) {
            return (abi.encodeWithSelector(StaleVoucher.selector, v.collectionId, collected, v.valueAggregate), 0, 0);
        }
        Account storage a = _accounts[v.payer][v.provider][v.token];
        uint256 balance = a.balance;
        if (balance == 0) {
            return (abi.encodeWithSelector(EmptyEscrowAccount.selector, v.payer, v.provider, v.token), 0, 0);
        }
        gross = v.valueAggregate - collected;
        if (gross > balance) gross = balance; // partial: the rest after a top-up
        lockAmount = _stakeFor(gross, _paymentTokens[v.token].stakeRatio);
        if (lockAmount > lockable) {
            return (
                abi.encodeWithSelector(IProviderStaking.InsufficientFreeStake.selector, lockable, lockAmount),
                0,
                0
            );
        }
        uint256 fee = _record(c, a, gross, balance);
        _claimable[v.provider][v.token] += gross - fee;
        if (fee != 0) _paymentTokens[v.token].fees += uint128(fee); // fits: fees <= the token's balance here
        _emitCollected(v, signer, gross, fee, collected + gross);
    }

    /// @dev Writes a provider's stake lock after `released` expired and `lockAmount` was added,
    ///      and applies both in ProviderStaking in one call.
    function _settleLocks(address provider, StakeLock memory l, uint256 released, uint256 lockAmount) internal {
        if (lockAmount != 0) _addLock(l, lockAmount);
        if (released == 0 && lockAmount == 0) return;
        _stakeLocks[provider] = l;
        staking.adjustCollateral(provider, released, lockAmount);
    }

    /// @dev Empties the buckets whose release time has come; returns what they held.
    function _releaseExpired(StakeLock memory l) internal view returns (uint256 released) {
        if (l.previous != 0 && l.previousRelease <= block.timestamp) {
            released = l.previous;
            (l.previous, l.previousRelease) = (0, 0);
        }
        if (l.current != 0 && l.currentRelease <= block.timestamp) {
            released += l.current;
            (l.current, l.currentRelease) = (0, 0);
        }
    }

    /// @dev Adds `amount` to the bucket released at the second window boundary from now.
    function _addLock(StakeLock memory l, uint256 amount) internal view {
        uint256 window = disputeWindow;
        uint256 release = (block.timestamp / window + 2) * window;
        uint256 current = l.current;
        if (current != 0 && l.currentRelease < release) {
            if (l.previous == 0) {
                (l.previous, l.previousRelease) = (l.current, l.currentRelease);
                current = 0;
            }
            // else: only after governance changed the window; merge, keeping the later release
        }
        current += amount;
        if (current > type(uint96).max) revert StakeLockTooLarge(type(uint96).max, current);
        l.current = uint96(current);
        if (l.currentRelease < release) l.currentRelease = uint32(release);
    }

    /// @dev Rounded up: every payment locks some stake, so no collection, however small, is paid
    ///      to a provider without stake (fits: gross < 2^128, ratio < 2^120).
    function _stakeFor(uint256 gross, uint256 ratio) internal pure returns (uint256) {
        return (gross * ratio + WAD - 1) / WAD;
    }

    function _revertWith(bytes memory failure) internal pure {
        assembly ("memory-safe") {
            revert(add(failure, 0x20), mload(failure))
        }
    }

    /// @dev Writes a payment of `gross` into its collection (fixing the fee at the first one)
    ///      and its account (whose thaw shrinks to what is left); returns the fee on it.
    function _record(
        Collection storage c,
        Account storage a,
        uint256 gross,
        uint256 balance
    ) internal returns (uint256 fee) {
        Collection memory cm = c;
        uint128 total = uint128(cm.collected + gross); // fits: gross <= valueAggregate - collected
        if (cm.started) {
            c.collected = total;
        } else {
            // The terms this collection keeps, read from the slot the stake lock's window is in.
            cm.feeBps = feeBps;
            (c.collected, c.feeBps, c.started) = (total, cm.feeBps, true);
            (c.fraudPenaltyBps, c.fraudPayerShareBps) = (fraudPenaltyBps, fraudPayerShareBps);
        }
        uint256 left = balance - gross;
        uint256 thawing = a.thawing;
        (a.balance, a.thawing) = (uint128(left), uint128(thawing < left ? thawing : left));
        fee = (gross * cm.feeBps) / BPS;
    }

    function _emitCollected(Voucher calldata v, address signer, uint256 gross, uint256 fee, uint256 total) internal {
        emit VoucherCollected(
            v.payer,
            v.provider,
            v.collectionId,
            v.token,
            signer,
            gross,
            gross - fee,
            fee,
            total,
            v.valueAggregate - total,
            v.requestCount
        );
    }

    /// @dev The voucher's signer, or the revert data saying why it may not sign for the payer.
    function _checkSigner(
        Voucher calldata v,
        bytes calldata signature
    ) internal view returns (bytes memory failure, address signer) {
        ECDSA.RecoverError err;
        // tryRecoverCalldata rejects high-s twins, bad v and lengths other than 65.
        (signer, err, ) = ECDSA.tryRecoverCalldata(_voucherDigest(v), signature);
        if (err != ECDSA.RecoverError.NoError) {
            return (abi.encodeWithSelector(InvalidVoucherSignature.selector), address(0));
        }
        if (signer == v.payer) return ("", signer);
        Signer memory s = _signers[signer];
        if (s.payer != v.payer) {
            return (abi.encodeWithSelector(SignerNotAuthorized.selector, v.payer, signer), signer);
        }
        if (s.revoked) return (abi.encodeWithSelector(SignerRevokedForPayer.selector, v.payer, signer), signer);
        return ("", signer);
    }

    function _voucherDigest(Voucher calldata v) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        VOUCHER_TYPEHASH,
                        v.payer,
                        v.provider,
                        v.token,
                        v.collectionId,
                        v.valueAggregate,
                        v.requestCount,
                        v.timestamp,
                        v.metadata
                    )
                )
            );
    }

    function _receiptDigest(ResponseReceipt calldata r) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        RECEIPT_TYPEHASH,
                        r.payer,
                        r.provider,
                        r.token,
                        r.collectionId,
                        r.requestIndex,
                        r.requestHash,
                        r.responseHash,
                        r.units
                    )
                )
            );
    }

    function _fraudDigest(bytes32 receiptDigest_, FraudAttestation calldata a) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        FRAUD_ATTESTATION_TYPEHASH,
                        receiptDigest_,
                        a.recomputedResponseHash,
                        a.deadline,
                        a.configVersion
                    )
                )
            );
    }

    function _signerProofDigest(address payer, address signer, uint256 deadline) internal view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SIGNER_PROOF_TYPEHASH, payer, signer, deadline)));
    }

    function _requireOwnSigner(address signer) internal view returns (Signer storage s) {
        s = _signers[signer];
        if (s.payer != msg.sender) revert NotSignerPayer(signer, s.payer, msg.sender);
        if (s.revoked) revert SignerAlreadyRevoked(signer);
    }

    function _setFee(uint256 bps) internal {
        if (bps > MAX_FEE_BPS) revert FeeOutOfRange(0, MAX_FEE_BPS, bps);
        feeBps = uint16(bps);
        emit FeeSet(bps);
    }

    function _setPeriods(uint256 interval, uint256 window, uint256 thaw_, uint256 signerThaw) internal {
        if (interval < MIN_WINDOW || interval > MAX_WINDOW) {
            revert CollectionIntervalOutOfRange(MIN_WINDOW, MAX_WINDOW, interval);
        }
        if (window < MIN_WINDOW || window > MAX_WINDOW) revert DisputeWindowOutOfRange(MIN_WINDOW, MAX_WINDOW, window);
        // A thaw must outlast a provider's collection interval plus the dispute window, so that a
        // payer who thaws right after a collection cannot withdraw before the next one.
        uint256 least = interval + window + 1;
        if (thaw_ < least || thaw_ > MAX_THAW_PERIOD) revert ThawPeriodOutOfRange(least, MAX_THAW_PERIOD, thaw_);
        if (signerThaw < least || signerThaw > MAX_THAW_PERIOD) {
            revert SignerThawPeriodOutOfRange(least, MAX_THAW_PERIOD, signerThaw);
        }
        (collectionInterval, disputeWindow, thawPeriod, signerThawPeriod) = (
            uint32(interval),
            uint32(window),
            uint32(thaw_),
            uint32(signerThaw)
        );
        emit PeriodsSet(interval, window, thaw_, signerThaw);
    }

    function _setFraudTerms(uint256 penaltyBps, uint256 payerShareBps) internal {
        if (penaltyBps == 0 || penaltyBps > BPS) revert BpsOutOfRange(1, BPS, penaltyBps);
        if (payerShareBps > BPS) revert BpsOutOfRange(0, BPS, payerShareBps);
        (fraudPenaltyBps, fraudPayerShareBps) = (uint16(penaltyBps), uint16(payerShareBps));
        emit FraudTermsSet(penaltyBps, payerShareBps);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
