"""A TCP proxy in a thread of the test, between the server processes and the database, that the
test can cut: the database "unreachable" without touching the database itself.

Modes:
- ``open``: bytes pass both ways;
- ``refuse``: the listening socket is closed (a new connection is refused at once) and every
  connection through it is closed (the database "went away");
- ``black_hole``: new connections are accepted and never answered, and the open ones stall:
  nothing passes either way, nothing is closed (a stalled host, a firewall dropping packets).
  Only the clients' own timeouts end their waits.

``heal()`` opens it again on the same port; connections that stalled in the black hole are
closed then, as a peer that gave up would, so the database ends their sessions.
"""

from __future__ import annotations

import select
import socket
import threading


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.mode = "open"
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._stopped = False
        self.accepted = 0  # connections accepted while open, over the proxy's life

    # --- control --------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._listen()
        return self

    def refuse(self) -> None:
        with self._lock:
            self.mode = "refuse"
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown wakes the thread blocked in accept(), so the port is free
        self._close_all()

    def black_hole(self) -> None:
        with self._lock:
            self.mode = "black_hole"

    def heal(self) -> None:
        with self._lock:
            was, self.mode = self.mode, "open"
        if was == "black_hole":
            self._close_all()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._stopped = True
        self.refuse()

    # --- inside ---------------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by refuse()
                return
            if self.mode == "refuse":
                _close(client)
                return
            if self.mode == "black_hole":
                with self._lock:
                    self._pairs.append((client, None))  # accepted, never answered
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways while open; hold them (read nothing) in the black hole."""
        ends = {client: upstream, upstream: client}
        try:
            while True:
                if self.mode == "black_hole":
                    select.select([], [], [], 0.1)
                    continue
                readable, _, _ = select.select(list(ends), [], [], 0.1)
                if self.mode != "open":
                    continue
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    ends[end].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for end in ends:
                _close(end)

    def _close_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _close(client)
            if upstream is not None:
                _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
