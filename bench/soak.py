"""Soak benchmark: one server, many connections, some of them misbehaving (issue 17).

    python bench/soak.py                                   # 1,000 connections, 2 x 180 s
    python bench/soak.py --connections 300 --seconds 60 --warmup 15   # about 3 minutes
    python bench/soak.py --seconds 600 --writes 20         # longer and busier
    python bench/soak.py --seconds 90 --warmup 30 --rounds 3   # medians of 3 pairs
    python bench/soak.py --uvicorn=--http=h11                  # an option for the server's uvicorn
    python bench/soak.py --uvicorn=--http=httptools            # uvicorn's protocol, not djira's
    python bench/soak.py --gc-threshold 50000,10,10            # the server's GC_THRESHOLD

One uvicorn process serves the example project (``bench/_soak_app.py``: the example as
shipped plus a ``soak`` hook for the writer and for the server's counters) on CPU 0, over a
fresh temporary SQLite database, with docs/deployment.md's ``--http`` protocol. Two runs,
each on a freshly started server (``--rounds`` of them, in alternating order, the p99
verdict then on the medians):

- **clean**: the well-behaved load alone;
- **soak**: the same load plus the misbehaving clients.

The well-behaved load (its own driver process, CPU 1), the same in both runs: ``connections``
minus the misbehaving ones subscribe to the room of one of ``--hot`` articles
(``article__<pk>``) and each makes a model retrieve every ``--interval`` seconds; one writer
saves the hot articles in turn, ``--writes`` times a second with a ``--body``-byte body,
which the example's observer pushes to their rooms (each subscriber gets ``writes / hot``
pushes a second).

The misbehaving clients (another driver process, CPU 1 at a lower priority):

- ``--stalled`` (20) raw websockets with a 4 kB receive buffer subscribe to room ``article``
  and every hot room, then stop reading for ``--stall`` seconds while still sending
  ``--stalled-rate`` retrieves a second (10; a hot article, about ``--body`` bytes a reply)
  whose replies pile up on the server; then they read what is left to learn whether and
  why the server closed them, and start over;
- ``--flooders`` (5) send ``--flood-window`` (2,000) requests at once, wait for every reply
  (past ``MAX_REQUESTS_IN_FLIGHT`` the first are answered 429 at once, then the server reads
  the rest no faster than it answers them) and start over; a flooder whose connection is
  closed (its pongs wait behind its own backlog: ``ping timeout``) connects again;
- ``--reconnectors`` (50) connect, subscribe, disconnect, wait ``--reconnect-pause``, again.

Printed: the well-behaved requests' p50/p99 in both runs (after ``--warmup``), with
``driver lag``: how late the well-behaved driver's own event loop woke up (p99; when it is
large, the driver, not the server, made requests late); the server's RSS every ``--sample``
seconds (from ``/proc``) with its open sockets; the server's own count of disconnects by
reason (the admin recorder, read through ``soak`` ``stats``; the log's "slow consumer"
lines as a cross-check) and what the clients saw; PASS/MISS for the issue's targets:
well-behaved p99 within 1.5x of the clean run, RSS flat after warm-up, no well-behaved
client disconnected. Nothing asserts; the exit status is 0 unless a run failed.
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
import multiprocessing  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from bench import _soak_clients as clients  # noqa: E402
from bench.common import (  # noqa: E402
    PinnedServer,
    cpu_seconds,
    percentile,
    print_table,
    seed_database,
    server_env,
)

APP = "bench._soak_app:application"
HTTP_PROTOCOL = "djira.uvicorn_http:HttpToolsProtocol"
MIB = 1024  # /proc reports KiB


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--connections", type=int, default=1000, help="connections in all (1000)")
    add("--seconds", type=float, default=180, help="length of each run (180)")
    add("--warmup", type=float, default=60, help="seconds not measured nor judged (60)")
    add("--interval", type=float, default=2.0, help="seconds between a client's requests (2)")
    add("--writes", type=float, default=10, help="saves per second by the writer (10)")
    add("--hot", type=int, default=10, help="articles written, one room each (10)")
    add("--body", type=int, default=5000, help="bytes of each saved body (5000)")
    add("--stalled", type=int, default=20, help="clients that stop reading (20)")
    add("--stall", type=float, default=60, help="seconds a stalled client reads nothing (60)")
    add(
        "--stalled-rate",
        type=float,
        default=10,
        help="retrieves/s a stalled client sends, never reading the replies (10)",
    )
    add("--flooders", type=int, default=5, help="flooding clients (5)")
    add("--flood-window", type=int, default=2000, help="requests a flooder sends at once (2000)")
    add("--reconnectors", type=int, default=50, help="clients reconnecting in a loop (50)")
    add("--reconnect-pause", type=float, default=1.0, help="seconds between reconnects (1)")
    add("--sample", type=float, default=10, help="seconds between RSS samples (10)")
    add("--articles", type=int, default=1000, help="rows seeded (1000)")
    add("--runs", default="clean,soak", help="which runs, in order (clean,soak)")
    add("--uvicorn", action="append", default=[], help="an argument for the server's uvicorn")
    add(
        "--gc-threshold",
        default=None,
        help="the server's GC_THRESHOLD, e.g. 50000,10,10 (djira's default: 25000,10,10)",
    )
    add(
        "--rounds",
        type=int,
        default=1,
        help="rounds of those runs, in alternating order; the p99 verdict takes medians (1)",
    )
    return parser.parse_args(argv)


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int | None) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def server_stats(url: str) -> dict[str, Any] | None:
    """The ``soak`` hook's ``stats`` (sockets, disconnects by reason), or None."""

    async def ask() -> dict[str, Any]:
        import aiohttp

        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as session:
            client = await clients.Client(session, ws_url).open()
            try:
                reply = await client.call("soak", {"namespace": "stats"}, timeout=20)
            finally:
                await client.close()
        return json.loads(reply)[0]["data"]

    try:
        return asyncio.run(ask())
    except Exception:  # noqa: BLE001 - a figure missing, not a failure
        return None


class Sampler(threading.Thread):
    """Reads the server's RSS (and, through the ``soak`` hook, its sockets) every few seconds."""

    def __init__(self, server: PinnedServer, every: float) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.every = every
        self.samples: list[tuple[float, int | None, int | None]] = []
        self.stop_event = threading.Event()
        self.began = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.is_set():
            at = time.monotonic() - self.began
            rss = rss_kib(self.server.pid)
            stats = server_stats(self.server.url)
            self.samples.append((at, rss, stats["sockets"] if stats else None))
            self.stop_event.wait(max(0.0, self.every - (time.monotonic() - self.began - at)))


def start_driver(target: Any, options: dict[str, Any]) -> tuple[Any, Any]:
    context: Any = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=True)
    process = context.Process(target=target, args=(sender, 1, options), daemon=True)
    process.start()
    return process, receiver


def receive(pipe: Any, limit: float, what: str) -> Any:
    if not pipe.poll(limit):
        raise RuntimeError(f"{what} gave no answer within {limit:.0f}s")
    message = pipe.recv()
    if isinstance(message, str) and message != "ready":
        raise RuntimeError(f"{what} failed:\n{message}")
    return message


def one_run(
    name: str, args: argparse.Namespace, env: dict[str, str], pks: range, log: Path
) -> dict:
    # The same well-behaved load in both runs; the soak run adds the misbehaving clients.
    good_count = args.connections - (args.stalled + args.flooders + args.reconnectors)
    hot = list(pks[: args.hot])
    # docs/deployment.md's HTTP protocol (djira.uvicorn_http); a later --uvicorn=--http=...
    # replaces it (uvicorn takes the last).
    uvicorn_args = ["--http", HTTP_PROTOCOL, *args.uvicorn]
    server = PinnedServer(
        APP, env=env, cpu=0, app_dir=_HERE.parent / "example", uvicorn_args=uvicorn_args
    )
    server.log_path = str(log)
    server.start()
    processes = []
    try:
        common = {"url": server.url, "hot": hot, "pks": list(pks)}
        good, good_pipe = start_driver(
            clients.good_process,
            {
                **common,
                "clients": good_count,
                "interval": args.interval,
                "writes": args.writes,
                "body": args.body,
            },
        )
        processes.append(good)
        drivers = [("well-behaved driver", good_pipe)]
        if name == "soak":
            bad, bad_pipe = start_driver(
                clients.bad_process,
                {
                    **common,
                    "port": server.port,
                    "stalled": args.stalled,
                    "flooders": args.flooders,
                    "reconnectors": args.reconnectors,
                    "stall": args.stall,
                    "stalled_rate": args.stalled_rate,
                    "window": args.flood_window,
                    "pause": args.reconnect_pause,
                },
            )
            processes.append(bad)
            drivers.append(("misbehaving driver", bad_pipe))
        connect_limit = 60 + 0.3 * args.connections
        for what, pipe in drivers:
            receive(pipe, connect_limit, what)
        print(
            f"  {name}: {good_count} well-behaved clients connected and subscribed; "
            f"running {args.seconds:g}s",
            file=sys.stderr,
        )
        sampler = Sampler(server, args.sample)
        server_stats(server.url)  # the server counts its pauses from here
        cpu_before = cpu_seconds(server.pid)
        sampler.start()
        for _, pipe in drivers:
            pipe.send(("go", args.seconds, args.warmup))
        # The server's CPU over the measured run only: the well-behaved driver reports as it
        # ends, while the misbehaving one may still wait for a flood's last replies, which
        # the server answers at full speed once no one else is served.
        results = [receive(drivers[0][1], args.seconds + 180, drivers[0][0])]
        cpu_after = cpu_seconds(server.pid)
        results += [receive(pipe, args.seconds + 180, what) for what, pipe in drivers[1:]]
        sampler.stop_event.set()
        sampler.join(30)
        final = server_stats(server.url)
        final_rss = rss_kib(server.pid)
        sampler.samples.append(
            (time.monotonic() - sampler.began, final_rss, final["sockets"] if final else None)
        )
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
        server.stop()
    log_text = log.read_text(errors="replace") if log.exists() else ""
    return {
        "name": name,
        "good": results[0],
        "bad": results[1] if len(results) > 1 else None,
        "samples": sampler.samples,
        "disconnects": (final or {}).get("disconnects"),
        "pauses": (final or {}).get("pauses"),
        "slow_consumer_lines": log_text.count("a slow consumer"),
        "server_cpu": (
            None
            if cpu_before is None or cpu_after is None
            else (cpu_after - cpu_before) / args.seconds
        ),
    }


def fmt_pauses(pauses: dict[str, dict[str, Any]] | None) -> list[str]:
    if not pauses:
        return ["  pauses: not reported"]
    gc_, loop = pauses["gc"], pauses["loop"]

    def over(record: dict[str, Any]) -> str:
        counts = sorted(record["over_ms"].items(), key=lambda kv: int(kv[0]))
        return ", ".join(f"{count} over {bound} ms" for bound, count in counts) or "none over 5 ms"

    return [
        f"  garbage collector: {gc_['collections']} collections, {gc_['seconds'] * 1000:.0f} ms "
        f"in all, longest {gc_['longest_ms']:.1f} ms; {over(gc_)}",
        *(
            f"    generation {generation}: {count} collections, {ms:.0f} ms, longest "
            f"{longest:.1f} ms, {garbage} garbage objects freed"
            for generation, (count, ms, longest, garbage) in sorted(
                gc_.get("generations", {}).items()
            )
        ),
        f"  event loop lag (a 10 ms sleep, {loop['samples']} samples): longest "
        f"{loop['longest_ms']:.1f} ms; {over(loop)}",
    ]


def fmt_counts(counts: dict[str, int] | None) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def rss_verdict(
    samples: list[tuple[float, int | None, int | None]], warmup: float
) -> tuple[bool, str]:
    """Flat after warm-up: the later half of the samples past warm-up is within 5% (or 8 MiB)
    of the earlier half (medians), and the last sample within 10% of the first past warm-up."""
    after = [rss for at, rss, _ in samples if at >= warmup and rss is not None]
    if len(after) < 4:
        return False, "too few samples after warm-up"
    half = len(after) // 2
    early, late = statistics.median(after[:half]), statistics.median(after[half:])
    drift = (late - early) / MIB
    last = (after[-1] - after[0]) / MIB
    flat = drift <= max(8.0, 0.05 * early / MIB) and last <= max(8.0, 0.10 * after[0] / MIB)
    return flat, (
        f"median of the later half {drift:+.1f} MiB vs the earlier half, "
        f"last sample {last:+.1f} MiB vs the first after warm-up"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not runs or set(runs) - {"clean", "soak"}:
        raise SystemExit("--runs: clean and/or soak")
    misbehaving = args.stalled + args.flooders + args.reconnectors
    if args.connections - misbehaving < 1 or args.warmup >= args.seconds:
        raise SystemExit("--connections must exceed the misbehaving clients; --warmup < --seconds")
    limit = raise_file_limit()
    if limit < args.connections * 2 + 100:
        print(
            f"file limit {limit} may be too low for {args.connections} connections", file=sys.stderr
        )
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} "
        f"{load[2]:.1f} at start",
        file=sys.stderr,
    )
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="djira-soak-") as tmp:
        db = Path(tmp) / "soak.sqlite3"
        pks = seed_database(db, args.articles)
        env = server_env(db)
        if args.gc_threshold:
            env["DJIRA_SOAK_GC_THRESHOLD"] = args.gc_threshold
        for round_ in range(args.rounds):
            # Alternating the order cancels a machine that drifts slower or faster.
            for name in runs if round_ % 2 == 0 else runs[::-1]:
                label = name if args.rounds == 1 else f"{name} {round_ + 1}"
                results[label] = one_run(name, args, env, pks, Path(tmp) / f"{label}.log")
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end", file=sys.stderr)
    report(args, results)
    return 0


def report(args: argparse.Namespace, results: dict[str, dict]) -> None:
    print()
    print(
        f"{args.connections} connections, {args.seconds:g}s per run, first {args.warmup:g}s "
        f"not measured; a retrieve every {args.interval:g}s per well-behaved client, "
        f"{args.writes:g} saves/s of {args.body} bytes over {args.hot} rooms"
        + (f"; server GC_THRESHOLD {args.gc_threshold}" if args.gc_threshold else "")
        + (f"; uvicorn {' '.join(args.uvicorn)}" if args.uvicorn else "")
    )
    print()
    rows = []
    for name, run in results.items():
        good = run["good"]
        latencies = good["latencies"]
        rows.append(
            [
                name,
                good["clients"],
                len(latencies),
                f"{len(latencies) / good['measured']:.0f}",
                f"{percentile(latencies, 50) * 1000:.1f}",
                f"{percentile(latencies, 99) * 1000:.1f}",
                f"{max(latencies) * 1000:.0f}" if latencies else "",
                sum(good["errors"].values()),
                sum(good["disconnected"].values()),
                good["pushes"],
                f"{run['server_cpu']:.0%}" if run["server_cpu"] is not None else "",
                f"{good['cpu']:.0%}",
                f"{percentile(good.get('lags', []), 99) * 1000:.0f}",
            ]
        )
    print_table(
        [
            "run",
            "clients",
            "requests",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "disconnected",
            "pushes",
            "server cpu",
            "driver cpu",
            "driver lag p99 ms",
        ],
        rows,
    )
    for name, run in results.items():
        if run["good"]["errors"]:
            print(f"  {name} errors: {fmt_counts(run['good']['errors'])}")

    for name, run in results.items():
        print()
        print(f"server RSS, {name} run (sampled from /proc every {args.sample:g}s):")
        samples = run["samples"]
        first = next((rss for _, rss, _ in samples if rss is not None), None)
        print_table(
            ["t s", "RSS MiB", "vs first", "sockets"],
            [
                [
                    f"{at:.0f}",
                    f"{rss / MIB:.1f}" if rss else "",
                    f"{(rss - first) / MIB:+.1f}" if rss and first else "",
                    sockets,
                ]
                for at, rss, sockets in samples
            ],
        )
        flat, detail = rss_verdict(samples, args.warmup)
        run["flat"] = flat
        print(f"  after warm-up ({args.warmup:g}s): {'flat' if flat else 'NOT flat'} ({detail})")

    for name, run in results.items():
        print()
        print(f"disconnects, {name} run:")
        print(
            f"  server (admin recorder, by reason): {fmt_counts(run['disconnects'])}"
            if run["disconnects"] is not None
            else "  server: recorder not reachable"
        )
        print(f"  server log: {run['slow_consumer_lines']} 'slow consumer' lines")
        for line in fmt_pauses(run["pauses"]):
            print(line)
        print(f"  writer: {run['good']['writes']} saves")
        print(f"  well-behaved clients disconnected: {fmt_counts(run['good']['disconnected'])}")
        bad = run["bad"]
        if bad:
            print(f"  stalled clients (after each stall): {fmt_counts(bad['stalls'])}")
            print(f"  flooders: {fmt_counts(bad['flood'])}")
            print(f"  reconnect cycles: {fmt_counts(bad['cycles'])}")

    print()
    p99s = {
        kind: [
            percentile(run["good"]["latencies"], 99)
            for run in results.values()
            if run["name"] == kind
        ]
        for kind in ("clean", "soak")
    }
    if p99s["clean"] and p99s["soak"]:
        clean, soak = statistics.median(p99s["clean"]), statistics.median(p99s["soak"])
        ratio = soak / clean if clean else float("nan")
        detail = ""
        if len(p99s["clean"]) > 1:
            pairs = zip(p99s["soak"], p99s["clean"], strict=False)
            each = ", ".join(f"{bad / good:.2f}x" for bad, good in pairs if good)
            detail = f" (medians of {len(p99s['clean'])} rounds; each round: {each})"
        print(
            f"{'PASS' if ratio <= 1.5 else 'MISS'}  well-behaved p99 {soak * 1000:.1f} ms "
            f"vs {clean * 1000:.1f} ms clean: {ratio:.2f}x (target <= 1.5x){detail}"
        )
    for name, run in results.items():
        print(f"{'PASS' if run['flat'] else 'MISS'}  RSS flat after warm-up ({name} run)")
    for name, run in results.items():
        lost = sum(run["good"]["disconnected"].values())
        print(
            f"{'PASS' if not lost else 'MISS'}  no well-behaved client disconnected "
            f"({name} run: {lost})"
        )


if __name__ == "__main__":
    raise SystemExit(main())
