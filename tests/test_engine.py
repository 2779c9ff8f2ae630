"""djira.engine: python-engineio's ping check (its service task), holding no socket between
its steps. That it closes a client whose pong is late is tested with the socket's own
lifetime (tests/test_socket_lifetime.py) and over uvicorn (tests/test_ping_live.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from django.conf import settings
from django.test import override_settings

from djira.engine import DjiraEngineServer
from djira.server import create_server
from djira.testing import InProcessCommunicator
from tests.test_socket_lifetime import _application, _socket_of

pytestmark = pytest.mark.usefixtures("db_")


def test_djira_s_server_runs_on_it():
    assert type(create_server().eio) is DjiraEngineServer


async def test_a_socket_closed_mid_round_is_freed_at_once():
    """python-engineio's check walked a copy of the sockets for a whole round
    (``ping_timeout``): a socket closed meanwhile, with its whole connection, lived on until
    the round ended, through every garbage collection of a server under connection churn."""
    sio, _, application = _application(ping_interval=25, ping_timeout=3)
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        async with InProcessCommunicator(application):  # starts the check's rounds
            client = InProcessCommunicator(application)
            await client.connect()
            await asyncio.sleep(3.5)  # a round has started since it connected
            socket = weakref.ref(_socket_of(sio, client))
            await client.disconnect()
            await asyncio.sleep(0.1)  # its writer ends; the round has 2.5 s to go
            gc.collect()
            assert socket() is None


async def test_shutdown_stops_the_check_within_a_step():
    """``shutdown`` waits for the check to end: with python-engineio's default
    ``ping_timeout`` (20 s) and one socket, a step between sockets is no longer than
    ``SERVICE_STEP``."""
    sio, _, application = _application()
    with override_settings(DJIRA_SETTINGS={**settings.DJIRA_SETTINGS, "SOCKET_INSTANCE": sio}):
        async with InProcessCommunicator(application):
            await asyncio.sleep(0.1)
            task = sio.eio.service_task_handle
            assert task is not None and not task.done()
            await asyncio.wait_for(sio.eio.shutdown(), 5)
            assert task.done() and task.exception() is None
