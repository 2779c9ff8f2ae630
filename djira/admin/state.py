"""Snapshots of live server state: this process's, merged with other processes' (Redis).

A snapshot is plain JSON-safe data, so the same shape is read locally and from the cluster.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync

from djira.admin import cluster
from djira.admin.recorder import TrafficRecorder, remote_address, user_label
from djira.delivery import heartbeat, processes
from djira.delivery.backends import get_registry

if TYPE_CHECKING:
    from djira.consumer import Consumer

NAMESPACE = "/"


def get_consumer() -> Consumer:
    """The consumer serving this process's Socket.IO server."""
    from djira.consumer import get_default_consumer
    from djira.settings import jira_settings

    consumer = getattr(jira_settings.SOCKET_INSTANCE, "djira_consumer", None)
    return consumer if consumer is not None else get_default_consumer()


def get_recorder(consumer: Consumer) -> TrafficRecorder | None:
    return consumer.monitor.find(TrafficRecorder)


def start_heartbeat(consumer: Consumer | None) -> None:
    """Publish this process's snapshot with its heartbeat, from now on (once; idempotent).

    Called on the running (server) loop: by the recorder at its first connection, and by
    ``collect_local`` there.
    """
    if consumer is not None:
        heartbeat.publish_snapshots(consumer.sio, lambda: _heartbeat_snapshot(consumer))


async def _heartbeat_snapshot(consumer: Consumer) -> tuple[str, dict[str, Any]]:
    recorder = get_recorder(consumer)
    every = processes.interval()
    if recorder is not None and await get_registry().flagged(consumer.sio, cluster.WATCH):
        recorder.watch(every * 3)
    recording = recorder is not None and recorder.recording
    # Connections and rooms in full only while a page watches (the flag): counts otherwise.
    snap = await collect_local(
        consumer, traffic=recording, rows=cluster.HEARTBEAT_ROWS, details=recording
    )
    if recording and recorder is not None:
        snap["traces"] = recorder.recent_traces(cluster.HEARTBEAT_TRACES)
        snap["deliveries"] = {
            trace: list(found) for trace, found in list(recorder.deliveries.items())
        }
    return snap["process"]["id"], snap


def process_id(consumer: Consumer) -> str:
    """A name for this process that is unique in the cluster."""
    return f"{socket.gethostname()}:{os.getpid()}:{consumer.sio.delivery.id[:6]}"


def local_rooms(consumer: Consumer) -> dict[str, list[str]]:
    """Named rooms of this process -> member sids (a socket's own room left out)."""
    rooms = consumer.sio.manager.rooms.get(NAMESPACE, {})
    out: dict[str, list[str]] = {}
    for room, members in list(rooms.items()):
        if room is None:
            continue
        sids = list(members)
        if sids == [room]:
            continue
        out[str(room)] = sorted(sids)
    return out


async def _connections(
    consumer: Consumer, recorder: TrafficRecorder | None, rooms: dict[str, list[str]], process: str
) -> list[dict[str, Any]]:
    sio = consumer.sio
    sid_rooms: dict[str, list[str]] = {}
    for room, sids in rooms.items():
        for sid in sids:
            sid_rooms.setdefault(sid, []).append(room)
    out = []
    for sid in list(sio.manager.rooms.get(NAMESPACE, {}).get(None, {})):
        try:
            session = await sio.get_session(sid)
            transport = sio.transport(sid)
        except (KeyError, TypeError):
            continue  # gone while we looked
        environ = session.get("environ") or {}
        stats = recorder.connections.get(sid) if recorder else None
        out.append(
            {
                "sid": sid,
                "process": process,
                "user": user_label(session.get("user")) if "user" in session else "(connecting)",
                "user_id": getattr(session.get("user"), "pk", None),
                "remote": remote_address(environ),
                "user_agent": str(environ.get("HTTP_USER_AGENT", ""))[:300],
                "transport": transport,
                "connected_at": stats.connected_at if stats else None,
                "requests": stats.requests if stats else 0,
                "last_activity": stats.last_activity if stats else None,
                "rooms": sorted(sid_rooms.get(sid, [])),
            }
        )
    return out


async def collect_local(
    consumer: Consumer,
    traffic: bool = True,
    on_server_loop: bool = False,
    rows: int | None = None,
    details: bool = True,
) -> dict[str, Any]:
    """This process's snapshot. A coroutine: run it on the server's loop, where state changes.

    ``rows``: the newest that many traffic rows only (the heartbeat's share), not all.
    ``details``: every connection and room member; without, their counts only (what a
    heartbeat publishes while no page watches: walking 10,000 connections every beat for
    nobody showed in profiles).
    """
    if on_server_loop:
        start_heartbeat(consumer)
    recorder = get_recorder(consumer)
    process = process_id(consumer)
    rooms = local_rooms(consumer)
    if details:
        connections = await _connections(consumer, recorder, rooms, process)
        count = len(connections)
    else:
        connections, count = [], len(consumer.sio.manager.rooms.get(NAMESPACE, {}).get(None, ()))
    monitor = consumer.monitor
    started = recorder.started_at if recorder else time.time()
    return {
        "process": {
            "id": process,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": started,
            "connections": count,
            "rooms": len(rooms),
            "requests": monitor.requests,
            "errors": monitor.errors,
            "pushes": monitor.pushes,
            "seen_at": time.time(),
        },
        "connections": connections,
        "rooms": {
            room: [{"sid": s, "process": process} for s in sids] for room, sids in rooms.items()
        }
        if details
        else {},
        "traffic": _traffic(recorder, process, rows) if recorder and traffic else [],
        "routes": recorder.route_summary() if recorder else [],
        "eps": recorder.events_per_second() if recorder else [],
        "unrecorded": recorder.unrecorded_recently() if recorder else 0,
        "disconnects": dict(recorder.disconnects) if recorder else {},
    }


def _traffic(recorder: TrafficRecorder, process: str, count: int | None) -> list[dict[str, Any]]:
    kept = recorder.rows
    newest = kept if count is None else list(itertools.islice(reversed(kept), count))[::-1]
    return [dict(row, process=process) for row in newest]


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """One view over several processes' snapshots."""
    rooms: dict[str, list[dict[str, Any]]] = {}
    for snap in snapshots:
        for room, members in snap["rooms"].items():
            rooms.setdefault(room, []).extend(members)
    routes: dict[tuple[str, str, str], dict[str, Any]] = {}
    for snap in snapshots:
        for route in snap["routes"]:
            key = (route["hook"], route["namespace"], route["action"])
            if key in routes:
                # Percentiles of several processes cannot be combined exactly: the worst wins.
                merged = routes[key]
                merged["count"] += route["count"]
                merged["errors"] += route["errors"]
                merged["p50"] = max(merged["p50"], route["p50"])
                merged["p99"] = max(merged["p99"], route["p99"])
            else:
                routes[key] = dict(route)
    eps: list[int] = []
    for snap in snapshots:
        series = snap["eps"]
        if len(series) > len(eps):
            eps = [0] * (len(series) - len(eps)) + eps
        offset = len(eps) - len(series)
        for i, count in enumerate(series):
            eps[offset + i] += count
    return {
        "processes": sorted((s["process"] for s in snapshots), key=lambda p: p["id"]),
        "connections": sorted(
            (c for s in snapshots for c in s["connections"]),
            key=lambda c: c["connected_at"] or 0,
            reverse=True,
        ),
        "rooms": dict(sorted(rooms.items())),
        "traffic": sorted(
            (r for s in snapshots for r in s["traffic"]),
            key=lambda r: (r["ts"], r["seq"]),
            reverse=True,
        ),
        "routes": sorted(routes.values(), key=lambda r: (r["hook"], r["namespace"], r["action"])),
        "eps": eps,
        # Older heartbeats (a process not yet upgraded) carry no count.
        "unrecorded": sum(s.get("unrecorded", 0) for s in snapshots),
        "disconnects": _sum_counts(s.get("disconnects") or {} for s in snapshots),
    }


def _sum_counts(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for each in counts:
        for reason, count in each.items():
            total[reason] = total.get(reason, 0) + int(count)
    return dict(sorted(total.items(), key=lambda item: -item[1]))


def find_trace(trace_id: str) -> dict[str, Any] | None:
    """The trace of one request, from this process or another's heartbeat, with the
    deliveries of the pushes it caused as every process reported them (``None``: unknown)."""
    consumer = get_consumer()
    recorder = get_recorder(consumer)
    process = process_id(consumer)
    found: dict[str, Any] | None = None
    deliveries: list[dict[str, Any]] = []
    if recorder is not None:
        local = recorder.trace(trace_id)
        if local is not None:
            found = {**local, "process": process}
        deliveries += [
            {**d, "process": process} for d in list(recorder.deliveries.get(trace_id, ()))
        ]
    for snap in cluster.remote_snapshots(exclude=process):
        other = snap["process"]["id"]
        if found is None:
            for trace in snap.get("traces", ()):
                if trace.get("id") == trace_id:
                    found = {**trace, "process": other}
        deliveries += [
            {**d, "process": other} for d in snap.get("deliveries", {}).get(trace_id, ())
        ]
    if found is None:
        return None
    found["deliveries"] = sorted(deliveries, key=lambda d: d["ts"])
    return found


def snapshot(traffic: bool = True, on_server_loop: bool = False) -> dict[str, Any]:
    """Every process's state, merged; the caller is a sync view.

    Under ASGI, ``async_to_sync`` from a sync view runs the collection on the server's own
    loop, so the state is read where it changes.
    """
    consumer = get_consumer()
    local = async_to_sync(collect_local)(consumer, traffic, on_server_loop)
    others = cluster.remote_snapshots(exclude=local["process"]["id"])
    for snap in others:
        snap["process"]["remote"] = True
    return merge([local, *others])


def room_presence(names: list[str]) -> dict[str, dict[str, Any]]:
    """Presence of the observer room behind each python-socketio room in ``names``.

    Every process's members (read from Redis with ``REDIS_URL``, this process's otherwise),
    through any hook name or route: ``{"room", "connections", "users", "anonymous"}``
    (``djira.delivery.presence``). Rooms joined by hand (no observer) are left out.
    """
    from djira.delivery import presence, registry

    uids = registry.uids()
    keys = {name: key for name in names if (key := presence.key_of(name, uids)) is not None}
    if not keys:
        return {}
    try:
        found = presence.snapshot(get_consumer().sio, list(dict.fromkeys(keys.values())))
    except Exception as exc:  # Redis down: the page still shows this process's rooms
        import logging

        logging.getLogger("djira").warning("djira admin: cannot read presence (%s)", exc)
        return {}
    return {name: found[key] for name, key in keys.items()}
