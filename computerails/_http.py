"""httpx for the SDK and its services, with one TLS context per process.

httpx builds a new TLS context (and loads the CA bundle) for every ``Client`` it makes, whatever
the URL's scheme: about 22 ms of CPU here, and ``httpx.get`` / ``httpx.post`` make a client per
call. Every client of this package is made here instead, sharing one context (0.1 ms). A context
verifies certificates exactly as httpx's own default does (certifi's bundle, or
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when the client trusts the environment); ``ssl.SSLContext``
is made to be shared between connections and threads.
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx


@cache
def tls_context(trust_env: bool = True) -> ssl.SSLContext:
    """The process's TLS context for clients that do (or do not) read the environment."""
    return httpx.create_ssl_context(trust_env=trust_env)


def client(*, trust_env: bool = True, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` on the shared TLS context (other arguments as httpx takes them)."""
    return httpx.Client(verify=tls_context(trust_env), trust_env=trust_env, **kwargs)


def async_client(*, trust_env: bool = True, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the shared TLS context."""
    return httpx.AsyncClient(verify=tls_context(trust_env), trust_env=trust_env, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.get`` on the shared TLS context."""
    return httpx.get(url, verify=tls_context(), **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.post`` on the shared TLS context."""
    return httpx.post(url, verify=tls_context(), **kwargs)
