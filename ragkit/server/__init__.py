"""`ragkit serve`: an index's answers over HTTP for the tools an office already uses.

The endpoints speak the OpenAI API's wire format (``/v1/chat/completions``, ``/v1/models``,
``/v1/embeddings``), so any OpenAI client can ask the documents; ragkit's own
(``/v1/search``, ``/v1/documents``, ``/healthz``) and a web page at ``/`` complete it.
Bound to loopback by default; elsewhere only with an API key.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from ragkit._assistant import Assistant
from ragkit._config import Config
from ragkit._errors import ConfigError
from ragkit.server._app import EXTRACTIVE, ServerSettings, create_app

__all__ = ["EXTRACTIVE", "ServerSettings", "create_app", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    settings: ServerSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ready: Callable[[str], None] | None = None,
    open_assistant: Callable[[Config], Assistant] | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM finish the requests under way first).

    ``ready`` is called with the server's address once it accepts connections (``port=0``
    picks a free port). Raises :class:`~ragkit.ConfigError` for an address other than
    loopback without ``settings.api_key``, or an address that cannot be bound.
    """
    import uvicorn

    if not is_loopback(host) and not settings.api_key:
        raise ConfigError(
            f"serving on {host} would open the documents to the network without an API key; "
            "give one (ServerSettings.api_key), or serve on 127.0.0.1."
        )
    bind = "127.0.0.1" if host == "localhost" else host
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(bind).version == 6 else socket.AF_INET
    except ValueError:
        raise ConfigError(
            f"the host {host!r} is not an IP address; give one such as 127.0.0.1 or 0.0.0.0."
        ) from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot serve on {host}:{port}: {exc.strerror}; choose another port."
        ) from exc
    sock.listen(128)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, open_assistant=open_assistant),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    )
    if ready is not None:
        shown = f"[{bind}]" if family == socket.AF_INET6 else bind
        ready(f"http://{shown}:{sock.getsockname()[1]}")
    server.run(sockets=[sock])
