"""What every ComputeRails daemon shares (the provider agent, the oracle node, the keeper):
settings from a TOML file plus environment overrides with the key in a V3 keystore
(:mod:`~computerails.service.settings`), and serving an ASGI app with uvicorn until SIGTERM with
one ``error:`` line for a bad configuration (:mod:`~computerails.service.serving`)."""
