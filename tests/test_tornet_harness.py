"""The private Tor network test bed: onion and exit fetches, per-credential circuits, client stop and teardown."""
from __future__ import annotations

import socket
import threading
import time

import httpx2
import pytest
from stem import Signal
from stem.control import Controller, EventType

from tests.support.fixture_server import FixtureServer, Request
from tests.support.tornet import PrivateTorNetwork

pytestmark = pytest.mark.tor


class _Site(FixtureServer):
    """A fixture site on 127.0.0.1 that answers its name and records each request's Host header."""

    def __init__(self, name: str):
        self.hosts: list[str] = []
        super().__init__(self._answer, protocol="HTTP/1.0", name=name)
        self.start()

    def _answer(self, request: Request):
        self.hosts.append(request.headers["Host"])
        return 200, {}, self.name.encode()


@pytest.fixture(scope="module")
def sites():
    servers = {name: _Site(name) for name in ("alpha", "beta")}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def net(tmp_path_factory, sites):
    network = PrivateTorNetwork(tmp_path_factory.mktemp("tornet"),
                                {name: site.port for name, site in sites.items()},
                                extra_socks_ports=1, extra_socks_flags=("IsolateDestAddr",),
                                map_addresses={"clearnet.test": "127.0.0.1"})
    network.start()
    yield network
    network.stop()


@pytest.fixture
def controller(net):
    with Controller.from_port(port=net.control_port) as ctl:
        ctl.authenticate()
        yield ctl


def fetch(net: PrivateTorNetwork, url: str, user: str = "test", port: int | None = None) -> httpx2.Response:
    """GET `url` through the client's SOCKS port; one retry after NEWNYM, as onion reachability can blink."""
    auth = f"{user}:x@" if port is None else ""
    proxy = f"socks5://{auth}127.0.0.1:{port or net.socks_port}"
    try:
        return httpx2.get(url, proxy=proxy, timeout=30)
    except httpx2.TransportError:
        with Controller.from_port(port=net.control_port) as ctl:
            ctl.authenticate()
            ctl.signal(Signal.NEWNYM)
        return httpx2.get(url, proxy=proxy, timeout=30)


def _runs_in(pid: int, workdir) -> bool:
    """Whether `pid` is a live process whose command line names `workdir` (so a reused pid does not count)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return str(workdir).encode() in cmdline.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_each_onion_serves_its_own_site(net, sites):
    onions = {name: net.onion(name) for name in sites}
    assert len(set(onions.values())) == 2
    for name, onion in onions.items():
        assert onion.endswith(".onion") and len(onion) == 62
        response = fetch(net, f"http://{onion}/")
        assert response.status_code == 200 and response.text == name
        assert sites[name].hosts[-1] == onion


def test_exit_reaches_loopback(net, sites):
    port = sites["alpha"].port
    assert fetch(net, f"http://127.0.0.1:{port}/").text == "alpha"
    assert fetch(net, f"http://clearnet.test:{port}/").text == "alpha"
    assert sites["alpha"].hosts[-1] == f"clearnet.test:{port}"
    assert fetch(net, f"http://127.0.0.1:{port}/", port=net.extra_socks_ports[0]).text == "alpha"


def test_socks_credentials_get_their_own_circuits(net, sites, controller):
    streams, lock = [], threading.Lock()

    def on_stream(event):
        if event.status == "SUCCEEDED" and event.target_port == port:
            with lock:
                streams.append(event.circ_id)

    def circuit_of(user: str) -> str:
        with lock:
            seen = len(streams)
        assert fetch(net, f"http://127.0.0.1:{port}/", user=user).text == "beta"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with lock:
                if len(streams) > seen:
                    return streams[-1]
            time.sleep(0.05)
        raise AssertionError("no STREAM SUCCEEDED event for the fetch")

    port = sites["beta"].port
    controller.add_event_listener(on_stream, EventType.STREAM)
    first_a, first_b, again_a = circuit_of("source-a"), circuit_of("source-b"), circuit_of("source-a")
    assert first_a != first_b
    assert again_a == first_a
    assert {first_a, first_b} <= {circ.id for circ in controller.get_circuits()}


def test_stem_controller_in_this_process_does_not_own_tor(net):
    pid = net.client_pid
    with Controller.from_port(port=net.control_port) as ctl:
        ctl.authenticate()
        assert ctl.get_conf("__OwningControllerProcess", None) in (None, "")
    time.sleep(1)
    assert net.client_pid == pid


def test_stopped_client_refuses_and_restarts(net):
    old_pid = net.client_pid
    net.stop_client()
    assert net.client_pid is None
    for port in (net.socks_port, net.control_port, *net.extra_socks_ports):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    net.start_client()
    assert net.client_pid not in (None, old_pid)
    assert fetch(net, f"http://{net.onion('alpha')}/").text == "alpha"


def test_stop_leaves_no_tor_running(net):
    pids = net.pids
    assert len(pids) == 3 + 2 + 1 + 1 + 1  # authorities, relays, client, onion service, restarted client
    net.stop()
    net.stop()
    assert not [pid for pid in pids if _runs_in(pid, net.workdir)]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", net.socks_port), timeout=5).close()
