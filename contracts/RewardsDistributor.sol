// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IAttestationHub} from "./interfaces/IAttestationHub.sol";
import {IRewardsDistributor} from "./interfaces/IRewardsDistributor.sol";
import {EmptyBatch, EpochLengthOutOfRange, ZeroAddress, ZeroAmount} from "./libraries/Errors.sol";

/// @title RewardsDistributor
/// @notice Emissions on a fading schedule, paid by quorum-posted cumulative merkle roots. See
///         {IRewardsDistributor}.
/// @dev Who calls what: anyone posts a root the oracle quorum signed, claims for any account and
///      funds the reserve; the guardian (GUARDIAN_ROLE) or any current oracle vetoes a pending
///      root; governance (GOVERNOR_ROLE, the timelock) sets the parameters within hard bounds;
///      an account names where its rewards go.
///
///      Two root banks: the latest posted root and the one before it. While the latest is
///      pending, claims use the one before; once it activates, the one before is history and
///      the next post overwrites it. A vetoed latest is overwritten by the next post, which
///      then continues the schedule from the one before. So the bank that is not the latest
///      is always empty or an active root.
contract RewardsDistributor is IRewardsDistributor, AccessControl, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice May veto a pending root (so may any current oracle).
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant ROOT_TYPEHASH = keccak256(
        "RewardsRoot(bytes32 root,uint256 total,uint256 through,uint256[] fees,uint256 configVersion)"
    );

    uint256 internal constant SCALE = 1e18;
    /// @notice Bounds of the parameters (inclusive).
    uint256 public constant MAX_E0 = 1e28;
    uint256 public constant MAX_HALVING_EPOCHS = 100_000;
    uint256 public constant MAX_FEE_TARGET = 1e28;
    uint256 public constant MAX_FEE_WINDOW = 1_000;
    uint256 public constant MIN_ACTIVATION_DELAY = 1 minutes;
    uint256 public constant MIN_EPOCH_LENGTH = 10 minutes;
    uint256 public constant MAX_EPOCH_LENGTH = 90 days;
    uint256 public constant MAX_SETTLE_DELAY = 30 days;
    uint256 public constant MAX_REWARD_PER_FEE = 1e36;
    /// @notice Most epochs one post may add to the schedule (bounds its gas).
    uint256 public constant MAX_EPOCHS_PER_POST = 64;

    /// @dev One posted root: three slots. Its activation time and veto live in {State} (only the
    ///      latest root has them to keep: the other bank is empty or active).
    struct Root {
        bytes32 root;
        uint128 total; // sum of its cumulative amounts (at most type(uint96).max: see Claimant)
        uint32 through; // epochs covered: 0 .. through − 1 (0: the bank is empty)
        uint128 released; // the schedule's release over epochs 0 .. through − 1
        uint128 feeAverage; // the fee average after epoch through − 1
    }

    /// @dev One slot per account: what it was paid, and where its rewards go (0: to itself).
    struct Claimant {
        uint96 claimed;
        address recipient;
    }

    IERC20 public immutable rewardToken;
    IAttestationHub public immutable hub;
    /// @notice Start of epoch 0, and the length of every epoch (seconds).
    uint256 public immutable genesis;
    uint256 public immutable epochLength;

    // One slot: every parameter a post reads (the bounds keep each within its field).
    uint96 internal _e0;
    uint96 internal _feeTarget;
    uint24 internal _halvingEpochs;
    uint16 internal _feeWindow;
    uint24 internal _activationDelay;

    /// @dev One slot, read by every post and claim: the reserve funded so far, and the latest
    ///      root's bank with a copy of what a claim needs from it (so that a claim against an
    ///      active latest root reads this slot and the root, not the bank's other slots).
    ///      What was claimed is not stored: tokens leave only by claims, so it is funded − the
    ///      balance (a claim saves a storage write).
    struct State {
        uint96 funded; // reward tokens added through fund(), claims paid included
        uint8 latest; // the bank of the latest posted root
        uint40 latestActivatesAt; // 0: no root posted yet
        bool latestVetoed;
        uint96 latestTotal;
    }

    Root[2] internal _banks;
    State internal _state;

    mapping(address account => Claimant) internal _claimants;

    /// @dev Read off chain only (by the calculator); posts and claims never touch these slots.
    CalculatorParams internal _calculator;

    /// @param token the reward token (the staking token by default)
    /// @param hub_ the AttestationHub whose oracle quorum signs roots
    /// @param admin governance (the timelock): admin, governor and guardian
    /// @param genesis_ start of epoch 0 (align it with the uptime epochs)
    /// @param epochLength_ seconds per epoch
    /// @param p the schedule's parameters
    constructor(
        IERC20 token,
        IAttestationHub hub_,
        address admin,
        uint256 genesis_,
        uint256 epochLength_,
        Params memory p
    ) EIP712("ComputeRails RewardsDistributor", "1") {
        if (address(token) == address(0) || address(hub_) == address(0) || admin == address(0)) revert ZeroAddress();
        if (epochLength_ < MIN_EPOCH_LENGTH || epochLength_ > MAX_EPOCH_LENGTH)
            revert EpochLengthOutOfRange(MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH, epochLength_);
        rewardToken = token;
        hub = hub_;
        genesis = genesis_;
        epochLength = epochLength_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, admin);
        _setParams(p);
    }

    // ─────────────────────────────── roots ───────────────────────────────

    /// @notice Posts a root the oracle quorum signed (anyone may relay it).
    /// @param post the root, its total, the epochs it covers and the fees of the epochs it adds
    /// @param signatures at least `threshold` 65-byte signatures over {rootDigest}, signers ascending
    function postRoot(RootPost calldata post, bytes calldata signatures) external {
        (uint256 target, Root storage base) = _postTarget();
        uint256 from = base.through;
        uint256 maxThrough = Math.min(currentEpoch(), from + MAX_EPOCHS_PER_POST);
        if (post.through <= from || post.through > maxThrough)
            revert ThroughOutOfRange(from + 1, maxThrough, post.through);
        if (post.fees.length != post.through - from) revert FeesLengthMismatch(post.through - from, post.fees.length);
        hub.verifyQuorum(rootDigest(post), signatures, post.configVersion);
        _record(post, target, base);
    }

    /// @notice Vetoes the pending root before it activates (the guardian or any current oracle).
    /// @param root the pending root (guards against vetoing a root posted meanwhile)
    /// @param reason why, for the record
    function veto(bytes32 root, string calldata reason) external {
        if (!hasRole(GUARDIAN_ROLE, msg.sender) && !hub.isOracle(msg.sender)) revert NotGuardianOrOracle(msg.sender);
        State storage state = _state;
        Root storage current = _banks[state.latest];
        bool none = state.latestActivatesAt == 0 || state.latestVetoed;
        if (none || current.root != root) revert RootNotPending(none ? bytes32(0) : current.root, root);
        if (block.timestamp >= state.latestActivatesAt)
            revert VetoWindowClosed(root, state.latestActivatesAt, block.timestamp);
        state.latestVetoed = true;
        emit RootVetoed(root, msg.sender, reason);
    }

    // ─────────────────────────────── claims ───────────────────────────────

    /// @notice Pays `account` its cumulative amount in the active root minus what it was paid
    ///         (anyone may call; the tokens go to the account or the recipient it set).
    /// @return amount what was paid
    function claim(
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof
    ) external returns (uint256 amount) {
        State storage state = _state;
        (bytes32 root, uint256 total) = _activeRoot(state);
        uint256 claimedSoFar = _claimedSoFar(state.funded);
        bytes4 problem;
        address recipient;
        (amount, recipient, problem) = _check(root, total, claimedSoFar, account, cumulativeAmount, proof);
        if (problem != bytes4(0)) _revertWith(problem, account, cumulativeAmount, total, claimedSoFar);
        _pay(account, recipient, amount, cumulativeAmount);
    }

    /// @notice Pays many claims in one transaction; an item that would revert `claim` is
    ///         skipped with a {ClaimSkipped} event naming its error, the rest are paid.
    /// @return paid the sum paid
    function claimMany(Claim[] calldata claims) external returns (uint256 paid) {
        uint256 count = claims.length;
        if (count == 0) revert EmptyBatch();
        (bytes32 root, uint256 total) = _activeRoot(_state);
        uint256 claimed = _claimedSoFar(_state.funded);
        for (uint256 i; i < count; ++i) {
            uint256 amount = _claimItem(i, claims[i], root, total, claimed);
            claimed += amount;
            paid += amount;
        }
    }

    /// @notice Sends the caller's future rewards to `recipient` (address(0): back to itself).
    function setRecipient(address recipient) external {
        _claimants[msg.sender].recipient = recipient;
        emit RecipientSet(msg.sender, recipient == address(0) ? msg.sender : recipient);
    }

    /// @notice Adds `amount` of the reward token to the reserve (transferred from the caller; the
    ///         reserve grows by what arrives).
    function fund(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = rewardToken.balanceOf(address(this));
        rewardToken.safeTransferFrom(msg.sender, address(this), amount);
        // What arrived, not what was sent: a token that takes a fee on transfer funds less.
        uint256 received = rewardToken.balanceOf(address(this)) - before;
        _state.funded = SafeCast.toUint96(_state.funded + received);
        emit Funded(msg.sender, received);
    }

    // ─────────────────────────────── governance ───────────────────────────────

    /// @notice Sets the schedule's parameters (from the next post on; released epochs keep theirs).
    function setParams(Params calldata p) external onlyRole(GOVERNOR_ROLE) {
        _setParams(p);
    }

    /// @notice Sets how the calculator splits emissions (for epochs it has not settled yet:
    ///         it applies the parameters in force when each epoch ends).
    function setCalculatorParams(CalculatorParams calldata p) external onlyRole(GOVERNOR_ROLE) {
        if (p.feeToken == address(0)) revert ZeroAddress();
        if (p.availabilityBps > 10_000) revert AvailabilityShareOutOfRange(0, 10_000, p.availabilityBps);
        if (p.washCapBps == 0 || p.washCapBps >= 10_000) revert WashCapOutOfRange(1, 9_999, p.washCapBps);
        if (p.settleDelay > MAX_SETTLE_DELAY) revert SettleDelayOutOfRange(0, MAX_SETTLE_DELAY, p.settleDelay);
        if (p.rewardPerFee == 0 || p.rewardPerFee > MAX_REWARD_PER_FEE)
            revert RewardPerFeeOutOfRange(1, MAX_REWARD_PER_FEE, p.rewardPerFee);
        _calculator = p;
        emit CalculatorParamsSet(p);
    }

    // ─────────────────────────────── views ───────────────────────────────

    /// @notice E(t): what the schedule releases in `epoch` at fee average `feeAverage`.
    function emission(uint256 epoch, uint256 feeAverage) public view returns (uint256) {
        uint256 target = _feeTarget;
        if (feeAverage >= target) return 0;
        return Math.mulDiv(Math.mulDiv(_e0, decay(epoch), SCALE), target - feeAverage, target);
    }

    /// @notice 2^(−epoch/H) scaled by 1e18: exact at each halving, linear between sixteenths.
    function decay(uint256 epoch) public view returns (uint256) {
        uint256 h = _halvingEpochs;
        uint256 halvings = epoch / h;
        if (halvings >= 64) return 0;
        uint256 sixteenths = (epoch % h) * 16; // position within the halving, in 1/16 of h
        uint256 k = sixteenths / h;
        uint256 rest = sixteenths % h;
        uint256 hi = _twoToMinusSixteenths(k);
        uint256 lo = _twoToMinusSixteenths(k + 1);
        return (hi - ((hi - lo) * rest) / h) >> halvings;
    }

    /// @notice The epoch running now (epochs before it have ended).
    function currentEpoch() public view returns (uint256) {
        return block.timestamp < genesis ? 0 : (block.timestamp - genesis) / epochLength;
    }

    /// @notice The EIP-712 digest oracles sign for `post`.
    function rootDigest(RootPost calldata post) public view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        ROOT_TYPEHASH,
                        post.root,
                        post.total,
                        post.through,
                        keccak256(abi.encodePacked(post.fees)),
                        post.configVersion
                    )
                )
            );
    }

    /// @notice The root claims use now: (root, total, epochs covered); all zero before the first.
    function activeRoot() external view returns (bytes32 root, uint256 total, uint256 through) {
        State memory state = _state;
        if (_latestActive(state)) return (_banks[state.latest].root, state.latestTotal, _banks[state.latest].through);
        Root storage r = _banks[1 - state.latest];
        return (r.root, r.total, r.through);
    }

    /// @notice The latest posted root and its state (through 0: none posted yet).
    function latestRoot()
        external
        view
        returns (
            bytes32 root,
            uint256 total,
            uint256 through,
            uint256 activatesAt,
            bool vetoed,
            uint256 released,
            uint256 feeAverage
        )
    {
        State memory state = _state;
        Root storage r = _banks[state.latest];
        return (r.root, r.total, r.through, state.latestActivatesAt, state.latestVetoed, r.released, r.feeAverage);
    }

    function params() external view returns (Params memory) {
        return Params(_e0, _halvingEpochs, _feeTarget, _feeWindow, _activationDelay);
    }

    /// @notice The calculator's parameters (all zero until governance sets them).
    function calculatorParams() external view returns (CalculatorParams memory) {
        return _calculator;
    }

    function claimed(address account) external view returns (uint256) {
        return _claimants[account].claimed;
    }

    function recipientOf(address account) external view returns (address) {
        address recipient = _claimants[account].recipient;
        return recipient == address(0) ? account : recipient;
    }

    /// @notice What claims paid so far (funded − balance; less by any tokens sent here directly).
    function totalClaimed() external view returns (uint256) {
        return _claimedSoFar(_state.funded);
    }

    /// @notice The reserve funded so far (what was claimed included); the balance is this − claimed.
    function funded() external view returns (uint256) {
        return _state.funded;
    }

    /// @notice The EIP-712 domain separator (for off-chain digest checks).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ─────────────────────────────── internals ───────────────────────────────

    /// @dev The bank a new post goes to and the root it continues from: the latest root once
    ///      active (the post goes to the other bank), else (none, or vetoed) the one before it
    ///      (the post overwrites the latest's bank). A pending latest root refuses the post.
    function _postTarget() internal view returns (uint256 target, Root storage base) {
        State memory state = _state;
        uint256 latest = state.latest;
        if (state.latestActivatesAt == 0 || state.latestVetoed) return (latest, _banks[1 - latest]);
        if (block.timestamp < state.latestActivatesAt)
            revert RootPending(_banks[latest].root, state.latestActivatesAt, block.timestamp);
        return (1 - latest, _banks[latest]);
    }

    /// @dev Runs the schedule over the post's new epochs, checks its total and keeps it as the
    ///      latest root, pending for the activation delay.
    function _record(RootPost calldata post, uint256 target, Root storage base) internal {
        (uint256 released, uint256 average) = _release(base.through, base.released, base.feeAverage, post.fees);
        uint256 total = post.total;
        if (total < base.total) revert TotalBelowPrevious(base.total, total);
        if (total > released) revert TotalAboveReleased(released, total);
        State memory state = _state;
        if (total > state.funded) revert TotalAboveReserve(state.funded, total);
        // released ≤ e0 · 3 · H ≤ 3e33 < 2^128 (the schedule halves every H epochs), the fee
        // average ≤ MAX_FEE_TARGET < 2^128, total ≤ funded < 2^96: every figure fits its field.
        uint256 activatesAt = block.timestamp + _activationDelay;
        _banks[target] = Root({
            root: post.root,
            total: uint128(total),
            through: uint32(post.through),
            released: uint128(released),
            feeAverage: uint128(average)
        });
        state.latest = uint8(target);
        state.latestActivatesAt = uint40(activatesAt);
        state.latestVetoed = false;
        state.latestTotal = uint96(total);
        _state = state;
        emit RootPosted(post.root, total, post.through, released, average, activatesAt);
    }

    /// @dev Runs the schedule over epochs `from` .. `from + fees.length − 1`.
    function _release(
        uint256 from,
        uint256 released,
        uint256 average,
        uint256[] calldata fees
    ) internal view returns (uint256, uint256) {
        uint256 window = _feeWindow;
        for (uint256 i; i < fees.length; ++i) {
            uint256 f = Math.min(fees[i], MAX_FEE_TARGET); // a fee past any target counts as the largest
            average = f >= average ? average + (f - average) / window : average - (average - f) / window;
            released += emission(from + i, average);
        }
        return (released, average);
    }

    /// @dev Tokens leave only through claims: what was funded less what is held (a token sent
    ///      here directly, not through fund(), only lowers this: it loosens the cap by itself).
    function _claimedSoFar(uint256 funded) internal view returns (uint256) {
        uint256 held = rewardToken.balanceOf(address(this));
        return held >= funded ? 0 : funded - held;
    }

    function _latestActive(State memory state) internal view returns (bool) {
        return state.latestActivatesAt != 0 && !state.latestVetoed && block.timestamp >= state.latestActivatesAt;
    }

    /// @dev The latest root once active, else the one before it (the bank that is not the
    ///      latest is empty or active).
    function _activeRoot(State storage stored) internal view returns (bytes32 root, uint256 total) {
        State memory state = stored;
        if (_latestActive(state)) return (_banks[state.latest].root, state.latestTotal);
        Root storage r = _banks[1 - state.latest];
        if (r.through == 0) revert NoActiveRoot();
        return (r.root, r.total);
    }

    /// @dev Pays one item of claimMany, or skips it with its reason; returns what it paid.
    function _claimItem(
        uint256 index,
        Claim calldata c,
        bytes32 root,
        uint256 total,
        uint256 claimedSoFar
    ) internal returns (uint256) {
        (uint256 amount, address recipient, bytes4 problem) = _check(
            root,
            total,
            claimedSoFar,
            c.account,
            c.cumulativeAmount,
            c.proof
        );
        if (problem != bytes4(0)) {
            emit ClaimSkipped(index, c.account, _reason(problem, c.account, c.cumulativeAmount, total, claimedSoFar));
            return 0;
        }
        _pay(c.account, recipient, amount, c.cumulativeAmount);
        return amount;
    }

    /// @dev What a claim pays and to whom, or the selector of the error that refuses it.
    function _check(
        bytes32 root,
        uint256 total,
        uint256 claimedSoFar,
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof
    ) internal view returns (uint256 amount, address recipient, bytes4 problem) {
        Claimant memory c = _claimants[account]; // one slot: claimed and recipient
        if (cumulativeAmount <= c.claimed) return (0, address(0), CumulativeAmountNotAboveClaimed.selector);
        if (!MerkleProof.verifyCalldata(proof, root, _leaf(account, cumulativeAmount)))
            return (0, address(0), InvalidProof.selector);
        amount = cumulativeAmount - c.claimed;
        if (claimedSoFar + amount > total) return (0, address(0), ClaimAboveRootTotal.selector);
        return (amount, c.recipient == address(0) ? account : c.recipient, bytes4(0));
    }

    /// @dev keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))), hashed in
    ///      the scratch space (the StandardMerkleTree leaf).
    function _leaf(address account, uint256 cumulativeAmount) internal pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0x00, account)
            mstore(0x20, cumulativeAmount)
            mstore(0x00, keccak256(0x00, 0x40))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @dev Records and pays one checked claim (cumulativeAmount ≤ total < 2^96). The reward
    ///      token is fixed at deployment (the staking token by default): a plain ERC-20 whose
    ///      transfer returns true or reverts.
    function _pay(address account, address recipient, uint256 amount, uint256 cumulativeAmount) internal {
        _claimants[account].claimed = uint96(cumulativeAmount);
        rewardToken.safeTransfer(recipient, amount);
        emit Claimed(account, recipient, amount, cumulativeAmount);
    }

    function _reason(
        bytes4 problem,
        address account,
        uint256 cumulativeAmount,
        uint256 total,
        uint256 claimedSoFar
    ) internal view returns (bytes memory) {
        if (problem == CumulativeAmountNotAboveClaimed.selector)
            return abi.encodeWithSelector(problem, account, uint256(_claimants[account].claimed), cumulativeAmount);
        if (problem == InvalidProof.selector) return abi.encodeWithSelector(problem, account, cumulativeAmount);
        uint256 amount = cumulativeAmount - _claimants[account].claimed;
        return abi.encodeWithSelector(problem, total, claimedSoFar + amount);
    }

    function _revertWith(
        bytes4 problem,
        address account,
        uint256 cumulativeAmount,
        uint256 total,
        uint256 claimedSoFar
    ) internal view {
        bytes memory reason = _reason(problem, account, cumulativeAmount, total, claimedSoFar);
        assembly ("memory-safe") {
            revert(add(reason, 32), mload(reason))
        }
    }

    function _setParams(Params memory p) internal {
        if (p.e0 == 0 || p.e0 > MAX_E0) revert EmissionOutOfRange(1, MAX_E0, p.e0);
        if (p.halvingEpochs == 0 || p.halvingEpochs > MAX_HALVING_EPOCHS)
            revert HalvingEpochsOutOfRange(1, MAX_HALVING_EPOCHS, p.halvingEpochs);
        if (p.feeTarget == 0 || p.feeTarget > MAX_FEE_TARGET)
            revert FeeTargetOutOfRange(1, MAX_FEE_TARGET, p.feeTarget);
        if (p.feeWindow == 0 || p.feeWindow > MAX_FEE_WINDOW)
            revert FeeWindowOutOfRange(1, MAX_FEE_WINDOW, p.feeWindow);
        uint256 maxDelay = epochLength - 1; // a root posted at an epoch's end activates before the next can be
        if (p.activationDelay < MIN_ACTIVATION_DELAY || p.activationDelay > maxDelay)
            revert ActivationDelayOutOfRange(MIN_ACTIVATION_DELAY, maxDelay, p.activationDelay);
        _e0 = uint96(p.e0);
        _feeTarget = uint96(p.feeTarget);
        _halvingEpochs = uint24(p.halvingEpochs);
        _feeWindow = uint16(p.feeWindow);
        _activationDelay = uint24(p.activationDelay);
        emit ParamsSet(p);
    }

    /// @dev 2^(−k/16) scaled by 1e18, k in 0 .. 16 (floor of the exact value).
    function _twoToMinusSixteenths(uint256 k) internal pure returns (uint256) {
        uint64[17] memory table = [
            uint64(1000000000000000000),
            957603280698573646,
            917004043204671231,
            878126080186649741,
            840896415253714543,
            805245165974627154,
            771105412703970411,
            738413072969749655,
            707106781186547524,
            677127773468446364,
            648419777325504832,
            620928906036742024,
            594603557501360533,
            569394317378345826,
            545253866332628829,
            522136891213706920,
            500000000000000000
        ];
        return table[k];
    }
}
