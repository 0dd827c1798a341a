"""Recomputable inference workloads: integer-only models whose answers anyone can check bit for
bit (what metered inference sells, and what an oracle re-runs to catch a wrong answer)."""
