"""`ragkit eval serve`: how many searches `ragkit serve` answers with each number of search
threads, measured in one run against the first setting.

The server runs in a child process of its own (one interpreter, as in production) on a
loopback port, and the clients are threads of this process, each on one keep-alive
connection, sending the queries to ``/v1/search`` in turn. Every setting gets a fresh server,
warmed by every client before the clock starts, so what each thread builds once (its
connection, the full text held in memory) is not what gets timed.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path

from ragkit._config import Config
from ragkit._errors import ConfigError, RagkitError
from ragkit._types import SearchMode
from ragkit.eval._retrieval import percentile
from ragkit.server import ServerSettings, serve
from ragkit.store import is_url, redacted

__all__ = ["ServeLoadReport", "ServeLoadRow", "evaluate_serve"]

# Searches each client sends before the clock starts: a search thread keeps the full text in
# memory from its third search on (POSTINGS_AFTER), which these cover for up to 8 threads.
_WARM = 6
_START_SECONDS = 120


@dataclass
class ServeLoadRow:
    """One setting: ``searches`` timed searches by ``clients`` at once."""

    threads: int
    clients: int
    searches: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.searches / self.seconds if self.seconds else 0.0


@dataclass
class ServeLoadReport:
    """Searches per second and latency of `ragkit serve` for each number of search threads."""

    index: str
    mode: str
    queries: int
    rows: list[ServeLoadRow] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"{self.index}: {self.mode} searches of {self.queries} queries"]
        base = self.rows[0] if self.rows else None
        for row in self.rows:
            ratio = row.per_second / base.per_second if base and base.per_second else 0.0
            lines.append(
                f"search threads {row.threads}: {row.searches} searches by {row.clients} "
                f"clients in {row.seconds:.1f} s = {row.per_second:.0f}/s "
                f"(x{ratio:.2f} of {base.threads if base else row.threads} threads), "
                f"p50 {row.p50_ms:.0f} ms, p95 {row.p95_ms:.0f} ms, {row.errors} errors"
            )
        return lines


def _serve_child(settings: ServerSettings, address: Queue[str]) -> None:
    serve(settings, host="127.0.0.1", port=0, ready=address.put)


def evaluate_serve(
    db: str | Path,
    config: Config,
    queries: Sequence[str],
    *,
    threads: Sequence[int] = (1, 2),
    clients: int = 8,
    searches: int = 40,
    mode: SearchMode = "hybrid",
    key: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ServeLoadReport:
    """Serve ``db`` once per entry of ``threads`` and time ``clients`` clients each sending
    ``searches`` of ``queries`` (client ``i`` starts at query ``i``), after a warm-up."""
    if not queries:
        raise ConfigError("evaluate_serve needs at least one query.")
    if not threads or min(threads) < 1 or clients < 1 or searches < 1:
        raise ConfigError("threads, clients and searches must each be at least 1.")
    if not is_url(db) and not Path(db).is_file():
        raise ConfigError(f"{db} is not an index file; build one first (Assistant.add).")
    report = ServeLoadReport(redacted(str(db)) if is_url(db) else str(db), mode, len(queries))
    for count in threads:
        if progress is not None:
            progress(f"search threads {count}")
        settings = ServerSettings(db=db, config=config, key=key, search_threads=count)
        report.rows.append(_measure(settings, count, queries, clients, searches, mode))
    return report


def _measure(
    settings: ServerSettings,
    count: int,
    queries: Sequence[str],
    clients: int,
    searches: int,
    mode: str,
) -> ServeLoadRow:
    context = multiprocessing.get_context("spawn")
    address: Queue[str] = context.Queue()
    child = context.Process(target=_serve_child, args=(settings, address), daemon=True)
    child.start()
    try:
        try:
            url = address.get(timeout=_START_SECONDS)
        except queue.Empty:
            raise RagkitError(
                f"the server for {settings.db} did not start within {_START_SECONDS} s"
                + ("" if child.is_alive() else f" (it exited with code {child.exitcode})")
                + "; check that the index opens (Assistant.search)."
            ) from None
        host, port = url.removeprefix("http://").rsplit(":", 1)
        latencies: list[float] = []
        errors = [0]
        failures: list[BaseException] = []
        lock = threading.Lock()
        start = threading.Barrier(clients + 1, timeout=_START_SECONDS)

        def client(i: int) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=_START_SECONDS)
            try:
                for n in range(_WARM):
                    status, reply = _search(conn, queries[(i + n) % len(queries)], mode)
                    if status != 200:
                        raise RagkitError(f"the server refused a search ({status}): {reply}")
                start.wait()
                for n in range(searches):
                    began = time.perf_counter()
                    status, _ = _search(conn, queries[(i + n) % len(queries)], mode)
                    took = (time.perf_counter() - began) * 1000
                    with lock:
                        latencies.append(took)
                        errors[0] += status != 200
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)
                start.abort()
            finally:
                conn.close()

        workers = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for worker in workers:
            worker.start()
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        began = time.perf_counter()
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - began
        if failures:
            raise failures[0]
    finally:
        child.terminate()
        child.join(30)
        if child.is_alive():
            child.kill()
    return ServeLoadRow(
        threads=count,
        clients=clients,
        searches=len(latencies),
        seconds=seconds,
        p50_ms=percentile(latencies, 0.5),
        p95_ms=percentile(latencies, 0.95),
        errors=errors[0],
    )


def _search(conn: http.client.HTTPConnection, query: str, mode: str) -> tuple[int, str]:
    """The status and body of one search."""
    body = json.dumps({"query": query, "k": 10, "mode": mode})
    conn.request("POST", "/v1/search", body, {"Content-Type": "application/json"})
    reply = conn.getresponse()
    return reply.status, reply.read().decode("utf-8", "replace")
