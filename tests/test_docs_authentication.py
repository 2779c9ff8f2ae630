"""docs/authentication.md as a reader runs it, in a new project built from the docs' steps.

The quickstart's project, then hooks.md's and this page's steps (tests/docproject.py): its
classes in ``mysite/authentication.py`` and ``mysite/permissions.py``, each of its settings
blocks served in turn (``mysite/settings_<name>.py``); the page's ``session`` hook says who
is connected. Nothing of this repository's test settings reaches the project.
"""

from __future__ import annotations

import pytest

from djira.testing import ConnectionRefused, SocketCommunicator
from tests.docblocks import DOCS, blocks
from tests.docproject import READER_PROJECT_MARKS, Project, reader_project, served, session_cookie

PAGE = "authentication.md"

pytestmark = READER_PROJECT_MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return reader_project(tmp_path_factory.mktemp("authentication"), PAGE)


defaults = served("defaults")
device = served("device")
jwt = served("jwt")
revoking = served("revoking")


def log_out(project: Project, username: str) -> None:
    """What logging out does to the user's sessions: they end."""
    project.shell(
        "from django.contrib.sessions.models import Session; "
        "[s.delete() for s in Session.objects.all() "
        f"if s.get_decoded().get('_auth_user_id') == str({project_pk(project, username)})]"
    )


def project_pk(project: Project, username: str) -> int:
    return project.shell_json(
        "from django.contrib.auth.models import User; "
        f"print(User.objects.get(username={username!r}).pk)"
    )


def delete_token(project: Project, key: str) -> None:
    project.shell(
        "from rest_framework.authtoken.models import Token; "
        f"Token.objects.filter(key={key!r}).delete()"
    )


async def me(client: SocketCommunicator) -> dict:
    """The page's ``session`` hook: who the socket is connected as."""
    return await client.request("session", namespace="me")


def test_every_python_sample_is_a_step_or_says_why_not():
    loose = [b.where for b in blocks(DOCS / PAGE) if b.lang == "python" and b.tag is None]
    assert loose == []


# -- the defaults: open sockets keep their user -----------------------------------------------


async def test_a_token_connects_as_its_user(project, defaults):
    token = project.create_users(tina={})["tina"]["token"]
    async with SocketCommunicator(defaults.url, token=token) as client:
        assert (await me(client))["data"] == {"username": "tina"}


async def test_an_open_socket_keeps_its_user_after_the_token_is_deleted(project, defaults):
    token = project.create_users(dora={})["dora"]["token"]
    async with SocketCommunicator(defaults.url, token=token) as client:
        delete_token(project, token)
        assert (await me(client))["data"] == {"username": "dora"}
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(defaults.url, token=token).connect()
    assert refused.value.status == 401


async def test_an_open_socket_keeps_its_user_after_logout(project, defaults):
    project.create_users(lou={})
    cookie = session_cookie(project, "lou")
    async with SocketCommunicator(defaults.url, headers={"Cookie": cookie}) as client:
        log_out(project, "lou")
        assert (await me(client))["data"] == {"username": "lou"}
    # The next connection with that cookie is anonymous: the session is gone.
    async with SocketCommunicator(defaults.url, headers={"Cookie": cookie}) as client:
        assert (await me(client))["data"] == {"username": None}


# -- your own class ---------------------------------------------------------------------------


async def test_the_device_key_identifies_its_user(project, device):
    project.create_users(dev={"last_name": "k3y"})
    async with SocketCommunicator(device.url, auth={"device": "dev:k3y"}) as client:
        assert (await me(client))["data"] == {"username": "dev"}
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(device.url, auth={"device": "dev:wrong"}).connect()
    assert refused.value.status == 401


async def test_the_next_class_is_tried_without_a_device_key(project, device):
    token = project.create_users(nodev={})["nodev"]["token"]
    async with SocketCommunicator(device.url, token=token) as client:
        assert (await me(client))["data"] == {"username": "nodev"}


# -- JWT --------------------------------------------------------------------------------------


async def test_a_jwt_access_token_connects_and_a_forged_one_is_refused(project, jwt):
    project.create_users(jay={})
    access = project.shell_line(
        "from django.contrib.auth.models import User; "
        "from rest_framework_simplejwt.tokens import AccessToken; "
        "print(AccessToken.for_user(User.objects.get(username='jay')))"
    )
    async with SocketCommunicator(jwt.url, auth={"jwt": access}) as client:
        assert (await me(client))["data"] == {"username": "jay"}
    with pytest.raises(ConnectionRefused) as refused:
        await SocketCommunicator(jwt.url, auth={"jwt": access[:-4] + "AAAA"}).connect()
    assert refused.value.status == 401


# -- CredentialsStillValid --------------------------------------------------------------------


async def test_credentials_still_valid_refuses_once_the_token_is_deleted(project, revoking):
    token = project.create_users(rita={})["rita"]["token"]
    async with SocketCommunicator(revoking.url, token=token) as client:
        assert (await me(client))["data"] == {"username": "rita"}
        delete_token(project, token)
        reply = await me(client)
    assert reply["status"] == 403
    assert reply["data"]["detail"] == "Your credentials were revoked: reconnect."


async def test_credentials_still_valid_refuses_after_logout(project, revoking):
    project.create_users(sam={})
    cookie = session_cookie(project, "sam")
    async with SocketCommunicator(revoking.url, headers={"Cookie": cookie}) as client:
        assert (await me(client))["data"] == {"username": "sam"}
        log_out(project, "sam")
        reply = await me(client)
    assert reply["status"] == 403
