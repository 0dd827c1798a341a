"""Deployments shipped with the package, one ``<chainId>.json`` each.

Public-chain deployments are added here when they happen; local devnets are found in
``./deployments`` instead, where ``make deploy`` writes them.
"""
