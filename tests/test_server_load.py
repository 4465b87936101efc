"""A load test of `ragkit serve` with the tiny real generator, on loopback, bounded in count and
time: 16 clients asking 8 questions each at once through a queue of 8."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from ragkit import Assistant, Config

from .helpers import SAMPLES
from .test_server import ragkit_serve

CLIENTS = 16
PER_CLIENT = 8
QUEUE = 8
QUESTIONS = [
    json.loads(line)["question"]
    for line in (Path(SAMPLES).parent / "questions.jsonl").read_text().splitlines()
    if line.strip()
]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def _ask(url: str, question: str, refused: list[int]) -> tuple[dict, float]:
    """Ask until the server takes the question (503s are retried after Retry-After)."""
    start = time.monotonic()
    while True:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": question}]},
            timeout=300,
        )
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return response.json(), time.monotonic() - start
        refused.append(1)
        time.sleep(float(response.headers["Retry-After"]))


def test_sixteen_clients_at_once_lose_mix_and_repeat_nothing(
    samples_copy: Path, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    with Assistant(samples_copy, config) as kb:
        retrieved = {q: {p.chunk_id for p in kb.search(q, config.ask_passages)} for q in QUESTIONS}
    # Short answers: the test is of the server's queueing, not of the model's prose.
    short = {"RAGKIT_MAX_ANSWER_TOKENS": "48"}
    with ragkit_serve(
        samples_copy, "serve", "--port", "0", "--max-queue", str(QUEUE), env=short
    ) as (url, process):
        refused: list[int] = []
        results: list[tuple[str, dict, float]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def client(n: int, count: int) -> None:
            try:
                for j in range(count):
                    question = QUESTIONS[(n + j * 5) % len(QUESTIONS)]
                    body, seconds = _ask(url, question, refused)
                    with lock:
                        results.append((question, body, seconds))
            except BaseException as exc:
                errors.append(exc)

        def burst(count: int) -> float:
            started = time.monotonic()
            threads = [threading.Thread(target=client, args=(n, count)) for n in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            assert not any(t.is_alive() for t in threads), "the load test ran past 10 minutes"
            assert not errors, errors
            return time.monotonic() - started

        # Warm: the model loaded and every thread's memory pools grown by one question each.
        burst(1)
        results.clear()
        refused.clear()
        before = _rss_kib(process.pid)
        wall = burst(PER_CLIENT)
        after = _rss_kib(process.pid)
        health = httpx.get(f"{url}/healthz").json()["queue"]

    assert len(results) == CLIENTS * PER_CLIENT  # none lost
    ids = [body["id"] for _q, body, _s in results]
    assert len(set(ids)) == len(ids)  # none answered twice
    for question, body, _s in results:
        extension = body["ragkit"]
        assert extension["question"] == question
        # Each answer rests on its own question's passages, never another request's.
        assert {p["chunk_id"] for p in extension["passages"]} <= retrieved[question]
    assert health["pending"] == 0
    assert after <= before * 1.10, f"server memory grew from {before} KiB to {after} KiB"
    latencies = np.array([s for _q, _b, s in results])
    p50, p95 = np.percentile(latencies, [50, 95])
    with capsys.disabled():
        print(
            f"\nserve load: {CLIENTS} clients x {PER_CLIENT} questions, queue {QUEUE}: "
            f"{len(results)} answered in {wall:.1f} s, latency p50 {p50:.2f} s p95 {p95:.2f} s, "
            f"{len(refused)} refused with 503 and retried, "
            f"memory {before / 1024:.0f} -> {after / 1024:.0f} MiB"
        )
