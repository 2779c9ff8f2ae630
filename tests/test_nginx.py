"""docs/deployment.md's nginx configuration, run by Debian's nginx in front of uvicorn.

The server blocks come from the page; only the addresses, the certificate paths and the
static root are swapped for local ones (a self-signed certificate, free loopback ports).
Real Socket.IO clients then connect through nginx over TLS.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from djira.testing import ConnectionRefused, SocketCommunicator, free_port
from tests.docblocks import DOCS, blocks

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(
    NGINX is None or shutil.which("openssl") is None, reason="needs nginx and openssl (apt)"
)


def doc_config() -> str:
    (block,) = [b for b in blocks(DOCS / "deployment.md") if b.tag == "test" and b.args == "nginx"]
    return block.code


def replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deployment.md's nginx block no longer has {old!r}"
    return text.replace(old, new)


class Nginx:
    """nginx in the foreground, as one process (no privilege drop), under ``root``."""

    def __init__(self, root: Path, upstream: str, static: Path | None = None) -> None:
        """``static``: the directory served as ``/static/`` (a file of its own if left out)."""
        self.root = root
        self.https_port, self.http_port = free_port(), free_port()
        if static is None:
            static = root / "staticfiles"
            static.mkdir()
            (static / "hello.txt").write_text("static from nginx")
        self.static = static
        cert, key = root / "cert.pem", root / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )
        server = doc_config()
        server = replace(server, "server 127.0.0.1:8000;", f"server {upstream};")
        server = replace(server, "listen 80;", f"listen 127.0.0.1:{self.http_port};")
        server = replace(
            server, "listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"
        )
        server = replace(server, "/etc/letsencrypt/live/example.com/fullchain.pem", str(cert))
        server = replace(server, "/etc/letsencrypt/live/example.com/privkey.pem", str(key))
        server = replace(server, "/srv/mysite/staticfiles/", f"{self.static}/")
        temp = "\n".join(
            f"    {kind}_temp_path {root / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (root / "nginx.conf").write_text(
            f"daemon off;\nmaster_process off;\npid {root / 'nginx.pid'};\n"
            f"error_log {root / 'error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    access_log {root / 'access.log'};\n{temp}\n{server}\n}}\n"
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)  # waiting for a subprocess to listen, not a test condition

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="module")
def upstream(live_server_factory):
    return live_server_factory(
        DJANGO_SETTINGS_MODULE="tests.docs_settings", DJIRA_DOCS_NUM_PROXIES="1"
    )


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, upstream):
    proxy = Nginx(tmp_path_factory.mktemp("nginx"), f"127.0.0.1:{upstream.port}")
    yield proxy
    proxy.stop()


class TLSCommunicator(SocketCommunicator):
    """A communicator that trusts the test's self-signed certificate."""

    def __init__(self, url: str, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.client = socketio.AsyncClient(reconnection=False, ssl_verify=False)
        self.client.on("*", self._on_event)
        self.client.on("connect_error", self._on_connect_error)


def insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def whoami(client: SocketCommunicator) -> dict:
    reply = await client.request("docs_whoami", namespace="me")
    assert reply["status"] == 200, reply
    return reply["data"]


async def test_websocket_through_nginx(nginx, db_):
    async with TLSCommunicator(nginx.url) as client:
        assert client.client.transport() == "websocket"
        assert (await whoami(client))["scheme"] == "https"


async def test_polling_then_upgrade_through_nginx(nginx, db_):
    async with TLSCommunicator(nginx.url, transports=["polling", "websocket"]) as client:
        assert (await whoami(client))["username"] is None
        # The Upgrade and Connection headers let the polling session move to a websocket.
        for _ in range(100):
            if client.client.transport() == "websocket":
                break
            await client.receive_nothing(0.05)
        assert client.client.transport() == "websocket"


async def test_push_through_nginx(nginx, user, token):
    async with TLSCommunicator(nginx.url, token=token) as client:
        subscribed = await client.request("observed", namespace="subscribe", action="SUBSCRIPTION")
        assert subscribed["status"] == 200, subscribed
        created = await client.request("observed", action="POST", data={"title": "Via nginx"})
        assert created["status"] == 201, created
        push = await client.receive("observed", match=lambda p: p.get("type") == "create")
        assert push["data"]["title"] == "Via nginx"


async def test_num_proxies_takes_the_address_nginx_saw(nginx, db_):
    # A client's own X-Forwarded-For is kept by nginx (it appends): one trusted proxy means
    # the last hop, what nginx saw, never the client's claim.
    async with TLSCommunicator(nginx.url, headers={"X-Forwarded-For": "203.0.113.9"}) as client:
        assert (await whoami(client))["address"] == "127.0.0.1"


async def test_same_origin_page_is_accepted_and_another_refused(nginx, db_):
    async with TLSCommunicator(nginx.url, headers={"Origin": nginx.url}) as client:
        await whoami(client)
    with pytest.raises(ConnectionRefused):
        await TLSCommunicator(nginx.url, headers={"Origin": "https://evil.example"}).connect()


def test_static_files_served_by_nginx(nginx):
    with urllib.request.urlopen(f"{nginx.url}/static/hello.txt", context=insecure()) as reply:
        assert reply.read() == b"static from nginx"


def test_plain_http_redirects_to_https(nginx):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"http://127.0.0.1:{nginx.http_port}/socket.io/")
    assert answer.value.code == 301
    assert answer.value.headers["Location"].startswith("https://127.0.0.1")
