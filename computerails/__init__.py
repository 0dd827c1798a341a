"""ComputeRails: payment and staking rails for decentralized compute networks."""

__version__ = "0.1.0"
