"""A private Tor network on 127.0.0.1 for tests: directory authorities, exit relays, a client, onion services.

Every tor is started from Debian's `tor` binary with its own torrc and data directory under `workdir`.
The harness takes ownership of each tor over a raw control connection (TAKEOWNERSHIP), so tor exits
as soon as the harness process dies, and clears `__OwningControllerProcess` afterwards so that a stem
`Controller` opened later in the same process does not take ownership (and kill tor when it closes).
"""
from __future__ import annotations

import atexit
import collections
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TOR = shutil.which("tor") or "/usr/bin/tor"
TOR_GENCERT = shutil.which("tor-gencert") or "/usr/bin/tor-gencert"
_PORT_RANGE = (15000, 32000)  # below Linux's ephemeral range, so outgoing connections never hold them
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class TorNetError(RuntimeError):
    """The private network could not be started (the message carries the failing tor's log tail)."""


class _Control:
    """A minimal raw control-port connection with cookie authentication."""

    def __init__(self, port: int, cookie_path: Path, timeout: float = 10.0):
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buf = b""
        self._events: collections.deque[str] = collections.deque()
        try:
            self.command(f"AUTHENTICATE {cookie_path.read_bytes().hex()}", timeout)
        except BaseException:
            self.close()
            raise

    def _line(self, deadline: float) -> str:
        while b"\r\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("control port did not answer")
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("control connection closed")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line.decode(errors="replace")

    def _message(self, deadline: float) -> tuple[str, list[str]]:
        """One reply or event: its status code and its lines without the status prefix."""
        lines = []
        while True:
            line = self._line(deadline)
            code, kind = line[:3], line[3:4]
            lines.append(line[4:])
            if kind == "+":
                while (data := self._line(deadline)) != ".":
                    lines.append(data[1:] if data.startswith("..") else data)
            elif kind == " ":
                return code, lines

    def command(self, line: str, timeout: float = 10.0) -> list[str]:
        """Send one command; return the reply lines of a 250 answer, raise TorNetError otherwise."""
        self._sock.sendall(line.encode() + b"\r\n")
        deadline = time.monotonic() + timeout
        while True:
            code, lines = self._message(deadline)
            if code == "650":
                self._events.append(lines[0])
            elif code == "250":
                return lines
            else:
                raise TorNetError(f"control command {line.split()[0]} failed: {code} {' '.join(lines)}")

    def event(self, timeout: float) -> str | None:
        """The next asynchronous event line (after '650 '), or None after `timeout` seconds."""
        if self._events:
            return self._events.popleft()
        deadline = time.monotonic() + timeout
        while True:
            try:
                code, lines = self._message(deadline)
            except TimeoutError:
                return None
            if code == "650":
                return lines[0]

    def close(self) -> None:
        self._sock.close()


@dataclass
class _Node:
    """One tor process of the network."""

    name: str
    datadir: Path
    control_port: int
    or_port: int = 0
    dir_port: int = 0
    socks_port: int = 0
    fingerprint: str = ""
    v3ident: str = ""
    torrc: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    control: _Control | None = None

    @property
    def log(self) -> Path:
        return self.datadir / "tor.log"

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            text = ["(no log)"]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class PrivateTorNetwork:
    """A Tor network on loopback: `authorities` directory authorities, `relays` more exit relays
    (exit policy: 127.0.0.0/8 only), one client and one onion-service tor with a hidden service
    per `onion_targets` entry (name -> local HTTP port, published as port 80).

    `extra_socks_ports` more client SocksPorts get `extra_socks_flags` (e.g. IsolateDestAddr);
    `map_addresses` adds client `MapAddress` lines (e.g. {"clearnet.test": "127.0.0.1"}).
    `extra_clients` more client tors are started like the main one (with one SocksPort each); see `client_ports()`.
    """

    def __init__(self, workdir: Path, onion_targets: dict[str, int] | None = None, authorities: int = 3,
                 relays: int = 2, extra_socks_ports: int = 0, extra_socks_flags: tuple[str, ...] = (),
                 map_addresses: dict[str, str] | None = None, extra_clients: int = 0):
        self.workdir = Path(workdir).resolve()
        self.onion_targets = dict(onion_targets or {})
        bad = [name for name in self.onion_targets if not _NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"onion target names must match {_NAME.pattern}: {bad}")
        if authorities < 1 or relays < 0:
            raise ValueError("need at least one authority")
        if extra_clients < 0:
            raise ValueError("extra_clients cannot be negative")
        self._n_authorities, self._n_relays = authorities, relays
        self._n_extra_socks, self._extra_socks_flags = extra_socks_ports, tuple(extra_socks_flags)
        self._map_addresses = dict(map_addresses or {})
        self._n_extra_clients = extra_clients
        self._nodes: list[_Node] = []
        self._client: _Node | None = None
        self._clients: list[_Node] = []
        self._onion: _Node | None = None
        self.socks_port = 0
        self.extra_socks_ports: list[int] = []
        self._old_client_pids: list[int] = []
        self._stopped = False

    # ----- public API

    @property
    def control_port(self) -> int:
        return self._client.control_port

    @property
    def cookie_path(self) -> Path:
        return self._client.datadir / "control_auth_cookie"

    @property
    def client_pid(self) -> int | None:
        """The client tor's pid, None while it is stopped."""
        return self._client.proc.pid if self._client.alive() else None

    @property
    def pids(self) -> list[int]:
        """Pids of every tor process started so far (running or not)."""
        return [node.proc.pid for node in self._nodes if node.proc is not None] + self._old_client_pids

    def client_ports(self) -> list[tuple[int, int]]:
        """(SOCKS port, control port) of each client tor, the main client first, then the `extra_clients`."""
        return [(node.socks_port, node.control_port) for node in self._clients]

    def onion(self, name: str) -> str:
        """The `<56 chars>.onion` hostname that serves `onion_targets[name]` on port 80."""
        if name not in self.onion_targets:
            raise KeyError(name)
        return (self._onion.datadir / f"hs-{name}" / "hostname").read_text().strip()

    def start(self, timeout: float = 90) -> None:
        """Start the network; return once the client is bootstrapped and every onion descriptor is uploaded.

        Raises TorNetError (with the failing tor's log tail) on failure or after `timeout` seconds.
        A start that fails because a chosen port was taken is retried with fresh ports.
        """
        for attempt in range(3):
            self._stopped = False
            atexit.register(self.stop)
            try:
                self._start(time.monotonic() + timeout)
                return
            except BaseException as exc:
                error = self._with_logs(exc)
                self.stop()
                if attempt < 2 and "Address already in use" in str(error):
                    continue
                raise error

    def stop_client(self, sig: int = signal.SIGTERM) -> None:
        """Stop the client tor (SIGTERM by default; pass signal.SIGKILL to kill it) and wait for it to exit,
        so that its SOCKS and control ports refuse connections."""
        self._terminate([self._client], sig)

    def start_client(self, timeout: float = 60) -> None:
        """Restart the client tor on the same ports and wait until it is bootstrapped."""
        if self._client.alive():
            return
        self._old_client_pids.append(self._client.proc.pid)
        deadline = time.monotonic() + timeout
        try:
            self._launch([self._client], deadline)
            self._wait_bootstrapped(self._client, deadline)
        except BaseException as exc:
            error = self._with_logs(exc)
            self.stop_client()
            raise error

    def stop(self) -> None:
        """SIGTERM every tor started, SIGKILL those still running after 10 s. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._terminate(self._nodes, signal.SIGTERM)
        atexit.unregister(self.stop)

    def __enter__(self) -> PrivateTorNetwork:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- building

    def _start(self, deadline: float) -> None:
        self._old_client_pids = []
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports = _free_ports(3 * self._n_authorities + 2 * self._n_relays + 3 + self._n_extra_socks
                            + 2 * self._n_extra_clients)
        authorities = [_Node(f"auth{i}", self.workdir / f"auth{i}", ports.pop(), ports.pop(), ports.pop())
                       for i in range(self._n_authorities)]
        relays = [_Node(f"relay{i}", self.workdir / f"relay{i}", ports.pop(), ports.pop())
                  for i in range(self._n_relays)]
        self._client = _Node("client", self.workdir / "client", ports.pop(), socks_port=ports.pop())
        self.socks_port = self._client.socks_port
        self.extra_socks_ports = [ports.pop() for _ in range(self._n_extra_socks)]
        self._clients = [self._client] + [_Node(f"client{i}", self.workdir / f"client{i}", ports.pop(),
                                                socks_port=ports.pop()) for i in range(1, self._n_extra_clients + 1)]
        self._onion = _Node("onion", self.workdir / "onion", ports.pop()) if self.onion_targets else None
        self._nodes = [*authorities, *relays, *self._clients] + ([self._onion] if self._onion else [])
        for node in self._nodes:
            shutil.rmtree(node.datadir, ignore_errors=True)
            node.datadir.mkdir(mode=0o700)

        self._make_keys(authorities, relays)
        self._write_torrcs(authorities, relays)
        self._launch([*authorities, *relays], deadline)
        self._wait_consensus(authorities, len(authorities) + len(relays), deadline)
        self._launch(self._clients + ([self._onion] if self._onion else []), deadline)
        if self._onion:
            self._onion.control.command("SETEVENTS HS_DESC")
        for client in self._clients:
            self._wait_bootstrapped(client, deadline)
        if self._onion:
            self._wait_descriptors(deadline)

    def _make_keys(self, authorities: list[_Node], relays: list[_Node]) -> None:
        """Authority identity/signing keys and every relay's identity, generated in parallel."""
        empty = self.workdir / "empty-torrc"
        empty.write_text("")
        jobs = []
        for node in authorities:
            keys = node.datadir / "keys"
            keys.mkdir(mode=0o700)
            jobs.append((node, subprocess.Popen(
                [TOR_GENCERT, "--create-identity-key", "--passphrase-fd", "0", "-m", "12",
                 "-a", f"127.0.0.1:{node.dir_port}", "-i", "authority_identity_key",
                 "-s", "authority_signing_key", "-c", "authority_certificate"],
                cwd=keys, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        for node in (*authorities, *relays):
            jobs.append((node, subprocess.Popen(
                [TOR, "--defaults-torrc", empty, "-f", empty, "--DataDirectory", node.datadir,
                 "--Nickname", node.name, "--ORPort", "1", "--list-fingerprint"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        try:
            for node, job in jobs:
                out, _ = job.communicate(b"nigran-test\n", timeout=60)
                if job.returncode:
                    raise TorNetError(f"{job.args[0]} failed for {node.name}:\n{out.decode(errors='replace')}")
        finally:
            for _, job in jobs:
                if job.poll() is None:
                    job.kill()
                    job.wait()
        for node in (*authorities, *relays):
            node.fingerprint = (node.datadir / "fingerprint").read_text().split()[1]
        for node in authorities:
            cert = (node.datadir / "keys" / "authority_certificate").read_text()
            node.v3ident = re.search(r"^fingerprint (\w+)", cert, re.M).group(1)

    def _write_torrcs(self, authorities: list[_Node], relays: list[_Node]) -> None:
        bandwidths = self.workdir / "bandwidths"
        bandwidths.write_text(f"{int(time.time())}\n" + "".join(
            f"node_id=${node.fingerprint} bw=1000\n" for node in (*authorities, *relays)))
        dir_authorities = [
            f"DirAuthority {a.name} orport={a.or_port} no-v2 v3ident={a.v3ident} 127.0.0.1:{a.dir_port} "
            f"{a.fingerprint}" for a in authorities]
        for node in self._nodes:
            node.torrc = [
                "TestingTorNetwork 1", f"DataDirectory {node.datadir}", f"Nickname {node.name}",
                f"ControlPort 127.0.0.1:{node.control_port}", "CookieAuthentication 1",
                f"__OwningControllerProcess {os.getpid()}", "ShutdownWaitLength 0",
                "PathsNeededToBuildCircuits 0.67", "LearnCircuitBuildTimeout 0", "CircuitBuildTimeout 30",
                "Log notice stdout", "SafeLogging 0", *dir_authorities]
        for node in (*authorities, *relays):
            node.torrc += [
                "SocksPort 0", "Address 127.0.0.1", f"ORPort 127.0.0.1:{node.or_port}", "AssumeReachable 1",
                "ExitRelay 1", "RefuseUnknownExits 0", "ExitPolicy accept 127.0.0.0/8:*", "ExitPolicy reject *:*",
                "ServerDNSDetectHijacking 0", "ServerDNSResolvConfFile /dev/null"]
        guards = ",".join(f"${a.fingerprint}" for a in authorities)
        for node in authorities:
            node.torrc += [
                f"DirPort 127.0.0.1:{node.dir_port}", "AuthoritativeDirectory 1", "V3AuthoritativeDirectory 1",
                "TestingV3AuthInitialVotingInterval 5", "TestingV3AuthInitialVoteDelay 2",
                "TestingV3AuthInitialDistDelay 2", "V3AuthVotingInterval 10", "V3AuthVoteDelay 2",
                "V3AuthDistDelay 2", "V3AuthNIntervalsValid 2", "TestingDirAuthVoteExit *",
                "TestingDirAuthVoteHSDir *", "TestingMinExitFlagThreshold 0", "AuthDirTestReachability 0",
                f"TestingDirAuthVoteGuard {guards}", "TestingDirAuthVoteGuardIsStrict 1",
                f"V3BandwidthsFile {bandwidths}"]
        for client in self._clients:
            client.torrc += [
                f"SocksPort 127.0.0.1:{client.socks_port}", "UseMicrodescriptors 0", "VanguardsLiteEnabled 0",
                *(f"MapAddress {name} {target}" for name, target in self._map_addresses.items())]
        self._client.torrc += [
            " ".join([f"SocksPort 127.0.0.1:{port}", *self._extra_socks_flags]) for port in self.extra_socks_ports]
        if self._onion:
            self._onion.torrc += ["SocksPort 0", "UseMicrodescriptors 0", "VanguardsLiteEnabled 0"]
            for name, port in self.onion_targets.items():
                self._onion.torrc += [f"HiddenServiceDir {self._onion.datadir / f'hs-{name}'}",
                                      f"HiddenServicePort 80 127.0.0.1:{port}"]
        for node in self._nodes:
            (node.datadir / "torrc").write_text("\n".join(node.torrc) + "\n")

    # ----- processes

    def _launch(self, nodes: list[_Node], deadline: float) -> None:
        """Start tors, then take ownership of each over a control connection."""
        for node in nodes:
            (node.datadir / "control_auth_cookie").unlink(missing_ok=True)
            with node.log.open("ab") as log:
                node.proc = subprocess.Popen(
                    [TOR, "--defaults-torrc", self.workdir / "empty-torrc", "-f", node.datadir / "torrc"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for node in nodes:
            while True:
                self._check(node, deadline, "did not open its control port")
                try:
                    node.control = _Control(node.control_port, node.datadir / "control_auth_cookie")
                    break
                except (OSError, TorNetError):
                    time.sleep(0.05)
            node.control.command("TAKEOWNERSHIP")
            node.control.command("RESETCONF __OwningControllerProcess")

    def _with_logs(self, exc: BaseException) -> BaseException:
        """A control-connection error turned into a TorNetError carrying the logs of the tors that exited."""
        if not isinstance(exc, OSError):
            return exc
        dead = [node.log_tail() for node in self._nodes if node.proc is not None and not node.alive()]
        error = TorNetError("\n".join([f"control connection failed: {exc!r}", *dead]))
        error.__cause__ = exc
        return error

    def _check(self, node: _Node, deadline: float, what: str) -> None:
        if not node.alive():
            raise TorNetError(f"{node.name} exited (status {node.proc.returncode})\n{node.log_tail()}")
        if time.monotonic() > deadline:
            raise TorNetError(f"{node.name} {what} in time\n{node.log_tail()}")

    def _wait_consensus(self, authorities: list[_Node], count: int, deadline: float) -> None:
        """Wait until every authority has a consensus that lists every relay."""
        pending = list(authorities)
        while pending:
            for node in self._nodes:
                if node.proc is not None:
                    self._check(node, deadline, "never saw a consensus listing every relay")
            try:
                consensus = pending[0].control.command("GETINFO dir/status-vote/current/consensus")
            except TorNetError:  # no consensus yet
                consensus = []
            if sum(line.startswith("r ") for line in consensus) >= count:
                pending.pop(0)
            else:
                time.sleep(0.25)

    def _wait_bootstrapped(self, node: _Node, deadline: float) -> None:
        while True:
            phase = node.control.command("GETINFO status/bootstrap-phase")[0]
            if "PROGRESS=100 " in phase:
                return
            self._check(node, deadline, f"did not bootstrap ({phase})")
            time.sleep(0.2)

    def _wait_descriptors(self, deadline: float) -> None:
        """Wait until each onion service has uploaded a descriptor and no upload is still in flight."""
        wanted = {self.onion(name).removesuffix(".onion") for name in self.onion_targets}
        uploaded: set[str] = set()
        in_flight: collections.Counter[str] = collections.Counter()
        while not (uploaded >= wanted and not +in_flight):
            self._check(self._onion, deadline, "did not upload all onion descriptors")
            event = self._onion.control.event(0.25)
            if not event or not event.startswith("HS_DESC "):
                continue
            action, address = event.split()[1:3]
            if action == "UPLOAD":
                in_flight[address] += 1
            elif action in ("UPLOADED", "FAILED"):
                in_flight[address] -= 1
                if action == "UPLOADED":
                    uploaded.add(address)
        self._onion.control.command("SETEVENTS")

    def _terminate(self, nodes: list[_Node], sig: int) -> None:
        """Signal each running tor, SIGKILL any still running after 10 s; close the owning connections."""
        running = [node for node in nodes if node.alive()]
        for node in running:
            node.proc.send_signal(sig)
        deadline = time.monotonic() + 10
        for node in running:
            try:
                node.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        for node in nodes:
            if node.control:
                node.control.close()
                node.control = None


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports that are free on 127.0.0.1 right now."""
    ports: set[int] = set()
    while len(ports) < count:
        port = random.randrange(*_PORT_RANGE)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.add(port)
    return list(ports)
