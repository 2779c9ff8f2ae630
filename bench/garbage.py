"""What a request or a connection leaves to the garbage collector, on the server.

    python bench/garbage.py                  # 200 retrieves, connects, connect-subscribes
    python bench/garbage.py --uvicorn=--http=h11

Objects in reference cycles are not freed when their last reference goes; they wait for the
cyclic garbage collector, whose collections pause the event loop and every worker thread
(``bench/soak.py`` prints those pauses). This starts the soak's server (the example project,
``bench/_soak_app.py``), turns its collector off, drives one kind of work from one client,
then asks the server what only the collector could free: the objects by type, per unit of
work, and the references between them that make the cycles. Nothing is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

from bench import _soak_clients as clients  # noqa: E402
from bench.common import PinnedServer, seed_database, server_env  # noqa: E402

WORKS = ("retrieve", "connect", "subscribe")


async def census(url: str, work: str, count: int, pks: list[int]) -> dict[str, Any]:
    import aiohttp

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        held = await clients.Client(session, ws_url).open()

        async def garbage() -> dict[str, Any]:
            reply = await held.call("soak", {"namespace": "garbage"}, timeout=60)
            return json.loads(reply)[0]["data"]

        await garbage()  # the collector off from here
        for n in range(count):
            pk = pks[n % len(pks)]
            if work == "retrieve":
                await held.call("articles", {"pk": pk})
                continue
            client = await clients.Client(session, ws_url).open()
            if work == "subscribe":
                await clients.subscribe(client, pk)
            await client.close()
        await asyncio.sleep(1)  # the server sees the last close
        found = await garbage()
        await held.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--works", default=",".join(WORKS), help="retrieve,connect,subscribe")
    parser.add_argument("--count", type=int, default=200, help="units of each work (200)")
    parser.add_argument("--top", type=int, default=12, help="types and references shown (12)")
    parser.add_argument("--uvicorn", action="append", default=[], help="an argument for uvicorn")
    args = parser.parse_args(argv)
    works = [w for w in args.works.split(",") if w]
    if set(works) - set(WORKS):
        raise SystemExit(f"--works: some of {', '.join(WORKS)}")
    with tempfile.TemporaryDirectory(prefix="djira-garbage-") as tmp:
        db = Path(tmp) / "garbage.sqlite3"
        pks = list(seed_database(db, 20))[:10]
        for work in works:
            server = PinnedServer(
                "bench._soak_app:application",
                env=server_env(db),
                cpu=0,
                app_dir=_HERE.parent / "example",
                uvicorn_args=args.uvicorn,
            )
            server.start()
            try:
                found = asyncio.run(census(server.url, work, args.count, pks))
            finally:
                server.stop()
            print(f"\n{work}: {found['total'] / args.count:.1f} objects in cycles per unit")
            for name, number in found["types"][: args.top]:
                print(f"  {number / args.count:6.2f}  {name}")
            if found["edges"]:
                print("  references inside the cycles:")
                for name, number in found["edges"][: args.top]:
                    print(f"  {number / args.count:6.2f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
