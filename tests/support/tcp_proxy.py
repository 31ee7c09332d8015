"""A TCP proxy on loopback that a test can cut, as a WAN link fails.

`TcpProxy` forwards 127.0.0.1:port to a server (one relay's way to ``nats-server``);
`cut` stops it at once in both directions without a word to either side (no FIN, no
RST: a cable pulled, so that neither end learns of it but by silence), and refuses new
connections. `close` ends every socket (the test's cleanup).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

__all__ = ["TcpProxy"]


class TcpProxy:
    """127.0.0.1:`port` -> 127.0.0.1:`target`, until `cut`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.is_cut = threading.Event()
        self.sockets: list[socket.socket] = [self.listener]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.is_cut.is_set():
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            if self.is_cut.is_set():
                client.close()
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Forward until the cut; after it, what arrives is swallowed (lost on the WAN)."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.is_cut.is_set():
                continue
            try:
                sink.sendall(data)
            except OSError:
                return

    def cut(self) -> None:
        """Nothing passes any more, either way; no new connection is accepted."""
        self.is_cut.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes its accept
        with contextlib.suppress(OSError):
            self.listener.close()

    def close(self) -> None:
        self.cut()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
