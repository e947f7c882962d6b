"""Where the remote server is: the API base URL, parsed once, and how to name it safely.

The URL is an OpenAI API base as OpenAI clients take it (``http://127.0.0.1:8080/v1``); one
without ``/v1`` is accepted too. Server-specific endpoints (``/props``, ``/tokenize``) live at
the server's root, the OpenAI ones under the base. Credentials written into the URL
(``http://user:key@host``) are refused: keys come from the environment or a key file only,
so they can never end up in the history or an error message through the URL.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from starling_tui.errors import EngineError

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Endpoint:
    """A parsed server URL: scheme, host, port, the server root path and the API base path."""

    scheme: str
    host: str
    port: int
    root: str  # path prefix of the server's own endpoints ("" or "/proxy")
    api: str  # path of the OpenAI API base ("/v1" or "/proxy/v1")

    @property
    def address(self) -> str:
        """``host:port`` for messages (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base as a URL (no credentials: they are never part of it)."""
        return f"{self.scheme}://{self.address}{self.api}"

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost`` and loopback addresses (plain HTTP is fine there)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def insecure(self) -> bool:
        """Plain HTTP to another machine: prompts and the key travel unencrypted."""
        return self.scheme == "http" and not self.is_loopback

    def path(self, suffix: str, *, api: bool = True) -> str:
        """The request path of ``suffix`` under the API base (or the server root)."""
        return (self.api if api else self.root) + suffix


def parse_endpoint(url: str) -> Endpoint:
    """Parse ``url`` (``http(s)://host[:port][/prefix][/v1]``); EngineError when unusable."""
    text = url.strip()
    if "://" not in text:
        raise EngineError(f"engine URL {text!r} needs a scheme: http://HOST:PORT/v1 or https://…")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise EngineError(f"engine URL {text!r} is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise EngineError(f"engine URL must start with http:// or https:// (got {scheme}://)")
    if parts.username or parts.password:
        raise EngineError(
            "engine URL must not contain credentials: put the key in STARLING_TUI_API_KEY "
            "or the api_key_file setting"
        )
    if not parts.hostname:
        raise EngineError(f"engine URL {scheme}://… names no host")
    if parts.query or parts.fragment:
        raise EngineError("engine URL must not have a query or fragment (use the API base)")
    path = parts.path.rstrip("/")
    root = path.removesuffix("/v1") if path.endswith("/v1") else path
    return Endpoint(scheme, parts.hostname, port or _DEFAULT_PORTS[scheme], root, root + "/v1")
