"""Helpers and drivers the tests import (conftest files hold fixtures only).

- ``deployment``: the protocol deployed through :mod:`computerails.devnet` on Ape's chain,
  wrapped in Ape contract instances; ``through_timelock`` on Ape's clock.
- ``protocol``: the user-level steps tests repeat (fund, register, create, attest, report).
- ``reverts``: the strict revert matcher (compares the complete revert data).
- ``signatures``: raw signature building and a plain-Python model of the hub's quorum check.
- ``books``: the accounting check every adversarial test ends with.
- ``staking``, ``uptime``, ``escrow``: constants and assertions of those contracts' suites.
- ``anvil``, ``sdk``: a real anvil with the protocol deployed, and the SDK suites' helpers.
"""
