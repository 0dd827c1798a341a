"""The provider agent as a real process for tests/agent: the package's own launcher
(:mod:`computerails.devnet.agent`, shared with the bench and the demo)."""

from computerails.devnet.agent import PASSWORD, READY_TIMEOUT, AgentProcess, write_config, write_keystore

__all__ = ["PASSWORD", "READY_TIMEOUT", "AgentProcess", "write_config", "write_keystore"]
