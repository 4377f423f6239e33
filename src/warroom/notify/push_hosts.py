"""Whether a push URL points into warroom's own network (a self-added method may not).

A person adding a push method makes warroom send a code there at once. Without this check a
viewer could add `ntfy://10.0.0.5:8080/x` and have warroom POST to a host only it can reach
(server-side request forgery). Hosts given as addresses, and names that resolve to loopback,
private, link-local or reserved addresses, are refused; a name that does not resolve is left
to fail when the code is sent.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")
# Schemes whose URL names the server to talk to. In the others (pover://, tgram://,
# discord://…) that part is a key, and the server is the vendor's own.
SERVER_SCHEMES = frozenset(
    {"ntfy", "ntfys", "gotify", "gotifys", "matrix", "matrixs", "rocket", "rockets",
     "workflow", "workflows", "zulip", "json", "jsons", "form", "forms", "xml", "xmls"}
)  # fmt: skip


def inside_network(url: str) -> bool:
    """Tell whether the URL's host is this machine or an address of a private network."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return True  # not a URL one could check: refuse rather than guess
    if parts.scheme.lower() not in SERVER_SCHEMES:
        return False
    if not host:
        return False  # nothing to reach (a scheme whose first part is a key, not a host)
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES):
        return True
    try:
        return _private(ipaddress.ip_address(host))
    except ValueError:
        pass  # a name
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(_private(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in found)


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
