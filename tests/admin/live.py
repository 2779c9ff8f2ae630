"""Helpers for tests that read the console from a live server process over HTTP."""

from __future__ import annotations

import asyncio

import aiohttp
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client


def session_cookie(user) -> str:
    """A session cookie value of ``user``, logged in through Django's test client."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def admin_session(url: str, user) -> aiohttp.ClientSession:
    """An HTTP session on ``url`` logged in as ``user`` (close it when done)."""
    cookie = await sync_to_async(session_cookie)(user)
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies for an IP-address host
    jar.update_cookies({settings.SESSION_COOKIE_NAME: cookie})
    return aiohttp.ClientSession(url, cookie_jar=jar)


async def get_text(http, path, **params) -> str:
    async with http.get(path, params=params, allow_redirects=False) as response:
        assert response.status == 200, f"{path}: {response.status}"
        return await response.text()


async def eventually(fetch, predicate, within=10.0):
    """Poll ``fetch()`` until ``predicate`` holds for its result (the pages update live)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await fetch()
        if predicate(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value:\n{value[:3000]}")
        await asyncio.sleep(0.05)
