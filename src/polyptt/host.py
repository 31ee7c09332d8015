"""This machine as a sender: its serial and its default caller id.

Phones identify a sender by a 32-bit serial, the last four bytes of their MAC address,
and show a caller id; polyptt derives both for this host the same way, so that the same
machine pages under the same identity every time (contention between senders is won by
the lowest serial, so a stable one matters). This is the only module that looks at the
machine's interfaces or name: the protocol itself (`polyptt.protocol`) stays pure.

Every polyptt on a host shares that serial, as the pages of one phone do: a process that
sends and listens (``loop``, the relay) drops only the page it has in flight, so it
still hears the others (`polyptt.receive.receiver`). ``--serial`` gives a sender an
identity of its own: to rank it in contention, or to tell it apart in a capture.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

from polyptt.errors import BadInput
from polyptt.protocol import fit_caller_id

__all__ = ["default_caller_id", "sender_identity", "serial_from_mac"]


_MAC_TEXT = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def _mac_from_sysfs(root: Path) -> int | None:
    """The MAC of this machine's most permanent-looking Ethernet interface, or None.

    Universally administered addresses come first (vendor-burnt, like a phone's), then
    locally administered ones (VMs, containers); ties go to the interface name, so the
    choice is stable across runs.
    """
    candidates: list[tuple[bool, str, int]] = []
    try:
        interfaces = sorted(root.iterdir())
    except OSError:
        return None
    for interface in interfaces:
        try:
            if (interface / "type").read_text().strip() != "1":  # ARPHRD_ETHER
                continue
            text = (interface / "address").read_text().strip().lower()
        except OSError:
            continue
        if not _MAC_TEXT.fullmatch(text):
            continue
        mac = int(text.replace(":", ""), 16)
        first_octet = mac >> 40
        if mac == 0 or first_octet & 0x01:  # unset, or a multicast address
            continue
        candidates.append((bool(first_octet & 0x02), interface.name, mac))
    return min(candidates)[2] if candidates else None


def serial_from_mac(mac: int | None = None) -> int:
    """A host serial as phones derive theirs: the last 4 bytes of the MAC address.

    Parameters
    ----------
    mac : int, optional
        48-bit MAC address. By default this machine's: on Linux the first Ethernet
        interface in /sys/class/net (universally administered addresses preferred,
        then by interface name); elsewhere, or if none is found, `uuid.getnode`.

    Returns
    -------
    int
        32-bit serial.

    Notes
    -----
    Fallback: when `uuid.getnode` finds no hardware address either (e.g. a network
    namespace with only loopback) it returns a random 48-bit number, fixed for the
    process. The serial is then still unique with high probability but changes between
    runs, and its rank in contention (lowest serial keeps transmitting) is arbitrary;
    pass an explicit serial (`parse_serial`) where that matters.
    """
    if mac is None:
        mac = _mac_from_sysfs(Path("/sys/class/net"))
    if mac is None:
        import uuid  # only here: it imports platform, a cost every start would pay

        mac = uuid.getnode()
    if isinstance(mac, bool) or not isinstance(mac, int) or not 0 <= mac < 1 << 48:
        raise ValueError(f"MAC address must be a 48-bit unsigned integer, got {mac!r}")
    return mac & 0xFFFFFFFF


def default_caller_id() -> str:
    """This host's short name, cut to what phones show (13 bytes of UTF-8)."""
    return fit_caller_id(socket.gethostname().split(".")[0].replace("\0", ""))[0]


def sender_identity(
    caller_id: str | None, serial: int | None, warn: Callable[[str], object]
) -> tuple[str, int]:
    """The caller id and serial a page goes out under (this host's unless given).

    The caller id is the one phones will show: a long `caller_id` is cut and `warn` told
    so, the default (this host's short name) is cut silently, so that a cron job does
    not mail about it.

    Raises
    ------
    BadInput
        For a caller id that cannot be sent (``--caller-id``).
    """
    if caller_id is None:
        fitted = default_caller_id()
    else:
        try:
            fitted, was_cut = fit_caller_id(caller_id)
        except ValueError as exc:
            raise BadInput(str(exc), "--caller-id") from None
        if was_cut:
            warn(f"caller id {caller_id!r} is longer than 13 bytes; phones will show {fitted!r}")
    return fitted, serial_from_mac() if serial is None else serial
