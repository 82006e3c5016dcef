"""A tiny SOCKS5 proxy on 127.0.0.1 (RFC 1928, username/password auth of RFC 1929) that records what each
client asked for: its credentials, and the destination as sent (a host name, or an IP address when the
client resolved the name itself). Every destination is served by 127.0.0.1 at the requested port, as a Tor
exit mapping names would."""
from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Connect:
    user: str
    password: str
    host: str
    by_name: bool  # the client sent the host name (ATYP 3), leaving name resolution to the proxy
    port: int


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SocksProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.connects: list[Connect] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = self.server_address[1]

    def __enter__(self) -> SocksProxy:
        threading.Thread(target=self.serve_forever, name="socks5", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            _, count = _read(client, 2)
            methods = _read(client, count)
            if 2 in methods:  # username/password
                client.sendall(b"\x05\x02")
                _read(client, 1)
                user = _read(client, _read(client, 1)[0]).decode()
                password = _read(client, _read(client, 1)[0]).decode()
                client.sendall(b"\x01\x00")
            elif 0 in methods:
                client.sendall(b"\x05\x00")
                user = password = ""
            else:
                client.sendall(b"\x05\xff")
                return
            _, _, _, atyp = _read(client, 4)  # only CONNECT is asked for
            if atyp == 3:
                host = _read(client, _read(client, 1)[0]).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET if atyp == 1 else socket.AF_INET6,
                                        _read(client, 4 if atyp == 1 else 16))
            port = int.from_bytes(_read(client, 2), "big")
        except ConnectionError:
            return  # a greeting only (nigran's check_socks)
        self.server.connects.append(Connect(user, password, host, atyp == 3, port))
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            client.sendall(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            return
        client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + port.to_bytes(2, "big"))
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        back.join(10)
