"""Tor for nigran: attach to a running tor or launch a private one (stem), check it, watch its circuits, renew them.

A crawl asks `open_tor()` for a TorSession before any request leaves. Sources are isolated by SOCKS
credentials (`nigran-<source>` / a generation number): tor's IsolateSOCKSAuth gives each pair its own
circuits, so renewing one source (a new generation; its idle old circuits closed) never disturbs another.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import stem
import stem.process
from stem import CircStatus, Signal, StreamStatus
from stem.control import Controller, EventType

from nigran.config.registry import env
from nigran.storage.home import data_home

log = logging.getLogger(__name__)
USER_PREFIX = "nigran-"
RENEW_INTERVAL = 10.0  # seconds; tor's own NEWNYM rate limit, applied per source too


class TorError(Exception):
    """Tor is not usable: not configured, unreachable, not bootstrapped or refusing SOCKS."""


def parse_address(value: str, what: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise TorError(f"{what} must be host:port, not {value!r}")
    return host or "127.0.0.1", int(port)


def socks_user(source: str) -> str:
    return f"{USER_PREFIX}{source}"


def stream_user(event) -> str:
    """The SOCKS username of a STREAM event (stem 1.8 leaves it among the raw keyword arguments)."""
    return event.keyword_args.get("SOCKS_USERNAME", "").strip('"')


@dataclass
class CircuitInfo:
    circuit_id: str
    exit_fingerprint: str | None


@dataclass
class TorSession:
    """A usable tor: its SOCKS address, a stem controller, and what each source's streams are using."""

    socks: tuple[str, int]
    controller: Controller
    process: object | None = None  # the tor we launched, stopped by close()
    browser_socks: tuple[str, int] | None = None  # a SocksPort isolating by destination, for Chromium
    generations: dict[str, int] = field(default_factory=dict)
    last_renewal: dict[str, float] = field(default_factory=dict)
    circuits: dict[str, CircuitInfo] = field(default_factory=dict)  # socks username -> latest circuit
    browser_circuits: dict[str, CircuitInfo] = field(default_factory=dict)  # host -> latest circuit, no username
    last_hops: dict[str, str] = field(default_factory=dict)  # circuit id -> last hop fingerprint
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- routing ------------------------------------------------------------------------------
    def proxy_url(self, source: str) -> str:
        """The per-source SOCKS5 proxy URL (names are resolved by tor, never locally)."""
        host, port = self.socks
        return f"socks5://{socks_user(source)}:{self.generations.get(source, 0)}@{host}:{port}"

    def browser_proxy_url(self) -> str:
        """The proxy for Chromium, which cannot send SOCKS credentials: a SocksPort of its own that gives
        every destination host its own circuits (IsolateDestAddr), opened on first use."""
        with self._lock:
            if self.browser_socks is None:
                self.browser_socks = add_isolating_socks_port(self.controller)
        host, port = self.browser_socks
        return f"socks5://{host}:{port}"

    def circuit_for(self, source: str) -> CircuitInfo | None:
        return self.circuits.get(socks_user(source))

    def browser_circuit_for(self, host: str) -> CircuitInfo | None:
        """The circuit that most recently carried a browser stream (no SOCKS username) to `host`."""
        return self.browser_circuits.get(host.lower().rstrip("."))

    # --- renewal ------------------------------------------------------------------------------
    def renew(self, source: str) -> bool:
        """New circuits for one source, at most every RENEW_INTERVAL seconds; False when rate-limited."""
        with self._lock:
            now = time.monotonic()
            if now - self.last_renewal.get(source, -RENEW_INTERVAL) < RENEW_INTERVAL:
                return False
            self.last_renewal[source] = now
            self.generations[source] = self.generations.get(source, 0) + 1
        closed = close_source_circuits(self.controller, source, self.generations[source])
        log.info("source %s: renewed Tor circuit (generation %d, %d idle old circuits closed)",
                 source, self.generations[source], closed)
        return True

    def refresh_onion_state(self) -> bool:
        """After an onion service could not be reached: NEWNYM, which also drops tor's cached onion
        descriptors and HSDir failures (otherwise kept ~15 min); only when tor's rate limit allows."""
        try:
            if not self.controller.is_newnym_available():
                return False
            self.controller.signal(Signal.NEWNYM)
        except stem.ControllerError:
            return False
        log.info("tor: NEWNYM after an unreachable onion service (fresh descriptors and circuits)")
        return True

    # --- circuit tracking ---------------------------------------------------------------------
    def _on_stream(self, event) -> None:
        """STREAM events: which circuit carries each source's streams. Listeners never call the controller
        (a controller call from stem's event thread can deadlock its close())."""
        user = stream_user(event)
        if event.status != StreamStatus.SUCCEEDED:
            return
        info = CircuitInfo(event.circ_id, self.last_hops.get(event.circ_id))
        if user.startswith(USER_PREFIX):
            self.circuits[user] = info
        elif not user and event.target_address:
            self.browser_circuits[event.target_address.lower().rstrip(".")] = info

    def _on_circuit(self, event) -> None:
        """CIRC events: the last hop of each built circuit."""
        if event.status == CircStatus.BUILT and event.path:
            self.last_hops[event.id] = event.path[-1][0]
        elif event.status in (CircStatus.CLOSED, CircStatus.FAILED):
            self.last_hops.pop(event.id, None)

    def watch_streams(self) -> None:
        for circ in self.controller.get_circuits():
            if circ.status == CircStatus.BUILT and circ.path:
                self.last_hops[circ.id] = circ.path[-1][0]
        self.controller.add_event_listener(self._on_circuit, EventType.CIRC)
        self.controller.add_event_listener(self._on_stream, EventType.STREAM)

    def close(self) -> None:
        try:
            self.controller.remove_event_listener(self._on_stream)
            self.controller.remove_event_listener(self._on_circuit)
        except stem.ControllerError:  # tor already gone
            pass
        try:
            self.controller.close()
        finally:
            if self.process is not None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except Exception:  # noqa: BLE001 - a stuck tor gets killed, whatever went wrong
                    self.process.kill()


@dataclass(frozen=True)
class TorAccess:
    """What a crawl got when it asked for Tor: a session, or why there is none."""

    session: TorSession | None
    error: str = ""


def close_source_circuits(controller: Controller, source: str, generation: int | None = None) -> int:
    """Close a source's circuits; return how many.

    With the crawl's current `generation`, only idle circuits of older generations: those still carrying
    a download finish it (tor gives them no new streams, their SOCKS password is stale), since closing
    them would only make Scrapy fetch those pages again. Without it (an operator's renewal), all of them.
    """
    busy = {stream.circ_id for stream in controller.get_streams()} if generation is not None else set()
    closed = 0
    for circ in controller.get_circuits():
        if circ.socks_username != socks_user(source) or circ.id in busy \
                or (generation is not None and circ.socks_password == str(generation)):
            continue
        try:
            controller.close_circuit(circ.id)
            closed += 1
        except (stem.ControllerError, ValueError):
            pass
    return closed


def add_isolating_socks_port(controller: Controller) -> tuple[str, int]:
    """Add a loopback SocksPort with IsolateDestAddr to the running tor (keeping its other SocksPorts)."""
    port = _free_port()
    current = [v for v in controller.get_conf("SocksPort", multiple=True) if v and v != "0"]
    try:
        controller.set_conf("SocksPort", [*current, f"127.0.0.1:{port} IsolateDestAddr IsolateDestPort"])
    except stem.ControllerError as exc:
        raise TorError(f"tor refused a SocksPort for the browser: {exc}") from None
    check_socks(("127.0.0.1", port))
    return "127.0.0.1", port


def connect_controller(control: tuple[str, int], password: str | None = None) -> Controller:
    """A stem controller, authenticated by cookie file or password."""
    try:
        controller = Controller.from_port(address=control[0], port=control[1])
        controller.authenticate(password=password)
    except (stem.SocketError, stem.connection.AuthenticationFailure) as exc:
        raise TorError(f"cannot use tor's control port {control[0]}:{control[1]}: {exc}") from None
    return controller


def bootstrap_progress(controller: Controller) -> tuple[int, str]:
    """(percent, summary) from tor's bootstrap status."""
    phase = controller.get_info("status/bootstrap-phase")
    fields = dict(part.split("=", 1) for part in phase.split() if "=" in part)
    return int(fields.get("PROGRESS", 0)), fields.get("SUMMARY", "").strip('"')


def wait_bootstrapped(controller: Controller, timeout: float, on_progress: Callable[[int, str], None]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        percent, summary = bootstrap_progress(controller)
        on_progress(percent, summary)
        if percent >= 100:
            return
        if time.monotonic() > deadline:
            raise TorError(f"tor did not finish bootstrapping within {timeout:.0f} s (stuck at {percent}%: {summary})")
        time.sleep(0.5)


def check_socks(socks: tuple[str, int]) -> None:
    """The SOCKS port accepts a SOCKS5 greeting (no request is made through it)."""
    try:
        with socket.create_connection(socks, timeout=5) as sock:
            sock.sendall(b"\x05\x01\x00")
            if sock.recv(2) != b"\x05\x00":
                raise TorError(f"{socks[0]}:{socks[1]} does not speak SOCKS5")
    except OSError as exc:
        raise TorError(f"tor's SOCKS port {socks[0]}:{socks[1]} refuses connections: {exc.strerror or exc}") from None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_tor(on_progress: Callable[[int, str], None], timeout: float = 180) -> TorSession:
    """Start a private tor in the data directory (extra torrc lines from $NIGRAN_TORRC), wait for bootstrap."""
    datadir = data_home() / "tor"
    datadir.mkdir(mode=0o700, exist_ok=True)
    socks_port, control_port = _free_port(), _free_port()
    config = {"DataDirectory": str(datadir), "SocksPort": f"127.0.0.1:{socks_port}",
              "ControlPort": f"127.0.0.1:{control_port}", "CookieAuthentication": "1",
              "Log": f"notice file {datadir / 'tor.log'}"}
    extra = env("NIGRAN_TORRC")
    if extra:
        for line in Path(extra).read_text().splitlines():
            key, _, value = line.strip().partition(" ")
            if key and not key.startswith("#"):
                config.setdefault(key, [])
                config[key] = ([config[key]] if isinstance(config[key], str) else config[key]) + [value.strip()]
    try:
        process = stem.process.launch_tor_with_config(
            config, tor_cmd=env("NIGRAN_TOR_CMD") or "tor", completion_percent=0, timeout=60,
            take_ownership=True)
    except OSError as exc:
        raise TorError(f"cannot start tor: {exc}") from None
    controller = connect_controller(("127.0.0.1", control_port))
    session = TorSession(("127.0.0.1", socks_port), controller, process=process)
    try:
        wait_bootstrapped(controller, timeout, on_progress)
    except BaseException:
        session.close()
        raise
    return session


@dataclass(frozen=True)
class TorConfig:
    """Where tor is: from --tor-socks/--tor-control, else $NIGRAN_TOR_SOCKS/$NIGRAN_TOR_CONTROL; none = launch one."""

    socks: str | None = None
    control: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls, socks: str | None = None, control: str | None = None) -> TorConfig:
        return cls(socks or env("NIGRAN_TOR_SOCKS"), control or env("NIGRAN_TOR_CONTROL"), env("NIGRAN_TOR_PASSWORD"))


def open_tor(config: TorConfig, on_progress: Callable[[int, str], None], timeout: float = 180) -> TorSession:
    """A checked TorSession: attached (bootstrapped, SOCKS answering) or freshly launched."""
    if config.socks and not config.control:
        raise TorError("NIGRAN_TOR_SOCKS is set without NIGRAN_TOR_CONTROL: nigran needs the control port too")
    if config.control:
        controller = connect_controller(parse_address(config.control, "the tor control address"), config.password)
        socks = parse_address(config.socks, "the tor SOCKS address") if config.socks else _socks_of(controller)
        session = TorSession(socks, controller)
        try:
            wait_bootstrapped(controller, timeout, on_progress)
        except BaseException:
            controller.close()
            raise
    else:
        session = launch_tor(on_progress, timeout)
    try:
        check_socks(session.socks)
    except TorError:
        session.close()
        raise
    session.watch_streams()
    return session


def _socks_of(controller: Controller) -> tuple[str, int]:
    """The first SOCKS listener tor reports."""
    listeners = controller.get_listeners(stem.control.Listener.SOCKS)
    if not listeners:
        raise TorError("tor has no SocksPort")
    return listeners[0]


def status(session: TorSession) -> dict:
    """Version, bootstrap and circuits per source, for `nigran tor status`."""
    controller = session.controller
    percent, summary = bootstrap_progress(controller)
    per_source: dict[str, list[dict]] = {}
    for circ in controller.get_circuits():
        user = circ.socks_username or ""
        if circ.status == CircStatus.BUILT and user.startswith(USER_PREFIX):
            per_source.setdefault(user.removeprefix(USER_PREFIX), []).append(
                {"id": circ.id, "purpose": circ.purpose, "path": [fp for fp, _ in circ.path]})
    try:
        check_socks(session.socks)
        socks_ok = True
    except TorError:
        socks_ok = False
    return {"version": str(controller.get_version()), "bootstrap": percent, "bootstrap_summary": summary,
            "socks": f"{session.socks[0]}:{session.socks[1]}", "socks_ok": socks_ok,
            "circuits_built": sum(1 for c in controller.get_circuits() if c.status == CircStatus.BUILT),
            "sources": per_source, "newnym_wait": controller.get_newnym_wait()}


def newnym(session: TorSession, source: str | None) -> str:
    """Renew circuits: one source's (close them) or all (SIGNAL NEWNYM, within tor's rate limit)."""
    controller = session.controller
    if source:
        return f"closed {close_source_circuits(controller, source)} circuits of source {source}"
    if not controller.is_newnym_available():
        raise TorError(f"tor allows the next NEWNYM in {controller.get_newnym_wait():.0f} s")
    controller.signal(Signal.NEWNYM)
    return "NEWNYM sent: new streams use new circuits"
