"""Redis clients for ``REDIS_URL``: one place that turns the URL into a client.

Accepted: ``redis://``, ``rediss://`` (TLS), ``unix://``; ``redis+sentinel://`` with a
comma-separated list of sentinels, the database and the service name, e.g.
``redis+sentinel://:password@host1:26379,host2:26379/0/mymaster`` (python-socketio's
format, so its Redis manager reads the same URL), for a client of the service's current
master, which redis-py finds again after a failover; and ``redis+cluster://`` with a
comma-separated list of nodes to start from, e.g. ``redis+cluster://host1:6379,host2:6379``,
for a Redis Cluster client (database 0, the only one a cluster has). Every client has
connection and I/O timeouts: a dead Redis makes a call fail, never hang.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"


def is_sentinel(url: str) -> bool:
    return urlparse(url).scheme == SENTINEL_SCHEME


def is_cluster(url: str) -> bool:
    return urlparse(url).scheme == CLUSTER_SCHEME


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The ``(host, port)`` of each node a cluster URL names."""
    nodes = []
    for node in urlparse(url).netloc.split("@")[-1].split(","):
        host, _, port = node.rpartition(":")
        nodes.append((host, int(port or 6379)))
    return nodes


def manager_url(url: str) -> str:
    """The URL python-socketio's Redis manager gets: a cluster's first node (its pub/sub
    messages reach every node's subscribers), the URL itself otherwise."""
    if not is_cluster(url):
        return url
    parsed = urlparse(url)
    credentials = parsed.netloc.rpartition("@")[0]
    host, port = cluster_nodes(url)[0]
    return f"redis://{credentials + '@' if credentials else ''}{host}:{port}/0"


def database(url: str) -> str:
    """The database number the URL names (``"0"`` when it names none)."""
    path = urlparse(url).path.strip("/")
    if is_sentinel(url):  # /<db>/<service>
        path = path.split("/")[0]
    return path or "0"


def sentinel_service(url: str) -> str | None:
    """The service a Sentinel URL names (``None`` without one: djira.E010)."""
    parts = urlparse(url).path.strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[1] else None


def connect(url: str, timeout: float, *, asynchronous: bool = False) -> Any:
    """A client for ``url`` (``redis.asyncio`` with ``asynchronous``) with ``timeout`` for
    connecting and for each command."""
    import redis
    import redis.asyncio

    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    module: Any = redis.asyncio if asynchronous else redis
    if is_cluster(url):
        import redis.asyncio.cluster
        import redis.cluster

        cluster: Any = redis.asyncio.cluster if asynchronous else redis.cluster
        parsed = urlparse(url)
        nodes = [cluster.ClusterNode(host, port) for host, port in cluster_nodes(url)]
        return cluster.RedisCluster(
            startup_nodes=nodes, username=parsed.username, password=parsed.password, **options
        )
    if not is_sentinel(url):
        return module.Redis.from_url(url, **options)
    from socketio.redis_manager import parse_redis_sentinel_url

    sentinels, service, connection = parse_redis_sentinel_url(url)
    sentinel = module.sentinel.Sentinel(
        sentinels, sentinel_kwargs=dict(options), **options, **connection
    )
    return sentinel.master_for(service)
