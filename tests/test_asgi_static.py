"""djira.asgi.get_asgi_application: static files under DEBUG, hooks registered by hand plus
discovered ones."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from djira.consumer import Consumer, add_discovered_hooks
from djira.decorators import action
from djira.hooks import APIHook
from djira.server import create_server
from djira.testing import SocketCommunicator


class DiscoveredProbeHook(APIHook):
    """Declares ``event``, so discovery finds it like a hook in an app's hooks.py."""

    event = "asgi_discovered_probe"

    @action(actions=["GET"])
    def ping(self):
        return "discovered"


class HandProbeHook(APIHook):
    @action(actions=["GET"])
    def ping(self):
        return "by hand"


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.fixture(scope="module")
def debug_server(live_server_factory):
    return live_server_factory(DJIRA_TEST_DEBUG="1")


def test_debug_serves_djira_static_files(debug_server):
    status, content_type, body = fetch(debug_server.url + "/static/djira/js/client.js")
    assert status == 200
    assert "javascript" in content_type
    assert b"export" in body


def test_debug_serves_admin_static_files(debug_server):
    status, content_type, _ = fetch(debug_server.url + "/static/admin/css/base.css")
    assert (status, content_type.split(";")[0]) == (200, "text/css")


def test_debug_static_missing_file_is_404(debug_server):
    status, _, _ = fetch(debug_server.url + "/static/djira/js/no-such-file.js")
    assert status == 404


async def test_debug_server_still_answers_sockets(debug_server, db_):
    async with SocketCommunicator(debug_server.url) as client:
        reply = await client.request("books", namespace="count")
    assert reply["status"] == 200


def test_without_debug_static_files_are_not_served(server):
    # As runserver: production static files are a web server's or WhiteNoise's job.
    status, _, _ = fetch(server.url + "/static/djira/js/client.js")
    assert status == 404


def test_discovered_hooks_join_a_consumer_passed_by_hand():
    consumer = Consumer(create_server())
    consumer.register("mine", HandProbeHook)
    add_discovered_hooks(consumer)
    assert consumer.hooks["mine"] is HandProbeHook
    assert consumer.hooks["asgi_discovered_probe"] is DiscoveredProbeHook


def test_a_name_registered_by_hand_wins_over_discovery():
    consumer = Consumer(create_server())
    consumer.register("asgi_discovered_probe", HandProbeHook)
    add_discovered_hooks(consumer)
    assert consumer.hooks["asgi_discovered_probe"] is HandProbeHook
