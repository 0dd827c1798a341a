// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IProviderStaking} from "../interfaces/IProviderStaking.sol";
import {JobEscrow} from "../JobEscrow.sol";

/// @title JobEscrowHarness
/// @notice TEST ONLY. A JobEscrow with a setter that moves the terms counter, so that a test can
///         reach TooManyTermsVersions without 2^24 governance calls. Never deploy it.
contract JobEscrowHarness is JobEscrow {
    constructor(
        IProviderStaking staking_,
        address admin,
        address treasury_,
        InitParams memory p
    ) JobEscrow(staking_, admin, treasury_, p) {}

    /// @notice Makes `id` the current terms id, copying the current terms to it.
    function harnessSetCurrentTermsId(uint24 id) external {
        _terms[id] = _terms[currentTermsId];
        currentTermsId = id;
    }
}
