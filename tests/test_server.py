"""`ragkit serve`: the OpenAI-compatible API driven by the official `openai` client, on a real
loopback port. Mechanics (streaming, history, the queue, disconnects) with a scripted
generator in a server thread; the command itself in a subprocess with the real packs."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import uvicorn
from click.testing import CliRunner

from ragkit import Assistant, Config, TextEncoder
from ragkit._config import TINY_GENERATOR
from ragkit.cli import main
from ragkit.server import EXTRACTIVE, ServerSettings, create_app
from ragkit.testing import Messages, ScriptedGenerator, word_pieces

from .helpers import SAMPLES

KEY = "correct horse battery staple"
RECORDS = "How long does the clinic keep the records of adult patients?"
RECORDS_ANSWER = "Adult records are kept for 10 years after the last visit [1]."


@contextlib.contextmanager
def running(app: object) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture
def scripted_server(
    samples_index: Path, config: Config, encoder: TextEncoder
) -> Callable[..., contextlib.AbstractContextManager[str]]:
    """``scripted_server(script, **settings)``: a server on the samples index whose generator
    writes ``script``; yields the base URL."""

    def start(script: object, **changes: object) -> contextlib.AbstractContextManager[str]:
        generator = ScriptedGenerator(script)  # type: ignore[arg-type]

        def open_assistant(cfg: Config) -> Assistant:
            return Assistant(samples_index, cfg, encoder=encoder, generator=generator)

        settings = ServerSettings(db=samples_index, config=config, **changes)  # type: ignore[arg-type]
        return running(create_app(settings, open_assistant=open_assistant))

    return start


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def test_streamed_answer_arrives_in_pieces_with_its_citations(scripted_server) -> None:
    with scripted_server(RECORDS_ANSWER) as url:
        stream = client(url).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": RECORDS}], stream=True
        )
        chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    # The words arrive one by one as the model writes them, then the sources.
    assert len(pieces) >= len(word_pieces(RECORDS_ANSWER))
    text = "".join(pieces)
    assert text.startswith("Adult records are kept for 10 years")
    assert "Sources:\n[1] clinic-handbook.pdf, p. 4" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1
    extension = last.model_extra["ragkit"]
    assert extension["citations"][0]["path"].endswith("clinic-handbook.pdf")
    assert extension["citations"][0]["page"] == 4
    assert extension["sentences"][0]["supported"] is True
    assert extension["abstained"] is False


def test_whole_answer_marks_an_unsupported_sentence_and_an_abstention(scripted_server) -> None:
    made_up = "Adult records are kept for 10 years [1]. The clinic also sells bicycles [1]."
    with scripted_server(made_up) as url:
        api = client(url)
        answer = api.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": RECORDS}]
        )
        declined = api.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "What is the airspeed of an unladen swallow?"}],
        )
    sentences = answer.model_extra["ragkit"]["sentences"]
    assert [s["supported"] for s in sentences] == [True, False]
    assert answer.choices[0].message.content.endswith("[1] clinic-handbook.pdf, p. 4")
    assert declined.model_extra["ragkit"]["abstained"] is True
    assert declined.choices[0].message.content.startswith("I don't know")


def test_earlier_messages_carry_a_follow_up(scripted_server) -> None:
    with scripted_server("The deposit is $19,350.00 [1].") as url:
        answer = client(url).chat.completions.create(
            model="auto",
            messages=[
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "Who is the tenant of Suite 410?"},
                {"role": "assistant", "content": "Harbor Street Legal is the tenant [1]."},
                {"role": "user", "content": "How much is its security deposit?"},
            ],
        )
    passages = answer.model_extra["ragkit"]["passages"]
    assert passages[0]["path"].endswith("office-lease.pdf")
    assert answer.model_extra["ragkit"]["question"] == "How much is its security deposit?"


def test_errors_have_the_status_and_shape_openai_clients_expect(scripted_server) -> None:
    with scripted_server(RECORDS_ANSWER, api_key=KEY, max_body=4096) as url:
        api = client(url, KEY)
        with pytest.raises(openai.BadRequestError) as bad:
            api.chat.completions.create(model="auto", messages=[])
        assert bad.value.status_code == 400
        assert bad.value.body["param"] == "messages"  # type: ignore[index]
        with pytest.raises(openai.NotFoundError) as unknown:
            api.chat.completions.create(
                model="gpt-5", messages=[{"role": "user", "content": RECORDS}]
            )
        assert "gpt-5" in unknown.value.message
        assert unknown.value.code == "model_not_found"
        with pytest.raises(openai.AuthenticationError) as wrong:
            client(url, "wrong key").models.list()
        assert wrong.value.status_code == 401
        keyed = {"Authorization": f"Bearer {KEY}"}
        cases = [
            (401, httpx.get(f"{url}/v1/models")),  # no key at all
            (413, httpx.post(f"{url}/v1/chat/completions", content=b" " * 5000, headers=keyed)),
            (400, httpx.post(f"{url}/v1/chat/completions", content=b"{not json", headers=keyed)),
            (404, httpx.get(f"{url}/v1/nothing-here", headers=keyed)),
            (405, httpx.get(f"{url}/v1/chat/completions", headers=keyed)),
        ]
        for status, response in cases:
            assert response.status_code == status, (status, response.text)
            error = response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"}
            assert "Traceback" not in error["message"]
        assert httpx.get(f"{url}/healthz").status_code == 200  # health needs no key


class Gate:
    """A script that writes one piece, then waits to be let through, then writes on slowly
    until told to stop; it records whether its stream was closed."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = threading.Event()
        self.calls = 0

    def __call__(self, _messages: Messages) -> Iterator[str]:
        self.calls += 1
        try:
            yield "Adult records "
            self.entered.set()
            self.release.wait(30)
            for _ in range(600):
                yield "kept "
                time.sleep(0.05)
        finally:
            self.closed.set()


def _health(url: str) -> dict[str, int]:
    queue: dict[str, int] = httpx.get(f"{url}/healthz").json()["queue"]
    return queue


def test_a_full_queue_refuses_with_retry_after(scripted_server) -> None:
    gate = Gate()
    with scripted_server(gate, max_queue=1) as url:
        with httpx.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json={
                "model": "auto",
                "stream": True,
                "messages": [{"role": "user", "content": RECORDS}],
            },
            timeout=60,
        ) as first:
            assert gate.entered.wait(30)
            second = httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": RECORDS}]},
                timeout=60,
            )
            assert second.status_code == 503
            assert second.headers["Retry-After"] == "1"
            assert second.json()["error"]["code"] == "queue_full"
            assert _health(url) == {
                "pending": 1,
                "limit": 1,
                "threads": 1,
                "served": 0,
                "refused": 1,
            }
            gate.release.set()
            assert first.status_code == 200
        assert gate.closed.wait(30)


def test_a_client_that_leaves_mid_stream_frees_the_model(scripted_server) -> None:
    gate = Gate()
    gate.release.set()
    with scripted_server(gate, max_queue=1) as url:
        stream = client(url).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": RECORDS}], stream=True
        )
        received = [next(iter(stream)) for _ in range(3)]
        assert received
        stream.close()
        # The model stops between two pieces and the slot is free for the next question.
        assert gate.closed.wait(30)
        deadline = time.monotonic() + 30
        while _health(url)["pending"]:
            assert time.monotonic() < deadline, "the slot of a closed stream was never freed"
            time.sleep(0.05)
        gate_calls = gate.calls
        again = client(url).chat.completions.create(
            model=EXTRACTIVE, messages=[{"role": "user", "content": RECORDS}]
        )
        assert again.model_extra["ragkit"]["mode"] == "extractive"
        assert gate.calls == gate_calls  # extractive answers call no model


def test_a_search_does_not_wait_behind_an_upload(
    samples_copy: Path, tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    entered, release = threading.Event(), threading.Event()

    class SlowToAdd(Assistant):
        def add(self, *args: Any, **kwargs: Any) -> Any:
            entered.set()
            assert release.wait(60)
            return super().add(*args, **kwargs)

    def open_assistant(cfg: Config) -> Assistant:
        return SlowToAdd(samples_copy, cfg, encoder=encoder)

    settings = ServerSettings(db=samples_copy, config=config, uploads=tmp_path / "uploads")
    with running(create_app(settings, open_assistant=open_assistant)) as url:
        with ThreadPoolExecutor(1) as pool:
            upload = pool.submit(
                httpx.post,
                f"{url}/v1/documents",
                files={"file": ("fees.md", b"# Fees\n\nA replacement key fob costs 12 pounds.")},
                timeout=120,
            )
            try:
                assert entered.wait(30)
                found = httpx.post(
                    f"{url}/v1/search", json={"query": "parking", "k": 2}, timeout=30
                )
                assert found.status_code == 200 and found.json()["data"]
                lanes = httpx.get(f"{url}/healthz").json()["lanes"]
                assert lanes["write"]["pending"] == 1 and lanes["search"]["served"] == 1
            finally:
                release.set()
            assert upload.result().json()["added"] == [str(tmp_path / "uploads" / "fees.md")]


def test_serving_beyond_loopback_needs_an_api_key(tmp_path: Path, samples_index: Path) -> None:
    result = CliRunner().invoke(
        main, ["--db", str(samples_index), "serve", "--host", "0.0.0.0", "--port", "0"]
    )
    assert result.exit_code == 1
    assert "API key" in result.output


def test_the_page_and_its_assets_come_from_the_server_alone(scripted_server) -> None:
    with scripted_server(RECORDS_ANSWER) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "<title>ragkit</title>" in page.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/static/") for a in assets)
        for asset in assets:
            body = httpx.get(f"{url}{asset}")
            assert body.status_code == 200
            # No CDN, font service or other origin: the page works with no internet.
            assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body.text), asset


# the command, with the real packs ---------------------------------------------------------------


@contextlib.contextmanager
def ragkit_serve(
    db: Path, *args: str, env: dict[str, str] | None = None, wrap: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`ragkit --db DB ... serve --port 0` in a subprocess (run by ``wrap``, e.g. strace);
    yields its URL and the process."""
    command = [
        *wrap,
        sys.executable,
        "-m",
        "ragkit.cli",
        "--db",
        str(db),
        "--model",
        TINY_GENERATOR,
        *args,
    ]
    environment = {**os.environ, "RAGKIT_JUDGE": "off", **(env or {})}
    process = subprocess.Popen(
        [*command, "serve", "--port", "0"] if "serve" not in args else command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"at (http://\S+)", line)
        stderr = process.stderr.read() if process.stderr and not found else ""
        assert found, f"no address from ragkit serve: {line!r} {stderr}"
        yield found.group(1), process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_ragkit_serve_answers_openai_clients(samples_copy: Path, encoder: TextEncoder) -> None:
    with ragkit_serve(samples_copy, env={"RAGKIT_API_KEY": KEY}) as (url, _process):
        api = client(url, KEY)
        models = {m.id for m in api.models.list()}
        assert {"auto", "ladder", EXTRACTIVE, TINY_GENERATOR} <= models
        stream = api.chat.completions.create(
            model=EXTRACTIVE, messages=[{"role": "user", "content": RECORDS}], stream=True
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert "clinic-handbook.pdf" in text
        cited = chunks[-1].model_extra["ragkit"]["citations"]
        assert cited and all(c["path"].endswith("clinic-handbook.pdf") for c in cited)
        texts = ["Adult records are kept for ten years.", "Visitors park on level P2."]
        expected = encoder.encode(texts)
        for fmt in ("base64", "float"):
            response = api.embeddings.create(input=texts, model="auto", encoding_format=fmt)  # type: ignore[arg-type]
            vectors = np.array(
                [
                    np.frombuffer(base64.b64decode(d.embedding), "<f4")  # type: ignore[arg-type]
                    if isinstance(d.embedding, str)
                    else d.embedding
                    for d in response.data
                ]
            )
            assert vectors.shape == (2, 384)
            np.testing.assert_allclose(vectors, expected, atol=1e-6)
        # One text alone: the int8 encoder quantizes each batch's activations together, so
        # a vector is compared with the SDK's for the same batch.
        default_format = api.embeddings.create(input=texts[0], model="auto")
        np.testing.assert_allclose(
            default_format.data[0].embedding, encoder.encode(texts[:1])[0], atol=1e-6
        )
        with pytest.raises(openai.AuthenticationError):
            client(url, "not the key").models.list()
        found = httpx.post(
            f"{url}/v1/search",
            json={"query": RECORDS, "k": 2},
            headers={"Authorization": f"Bearer {KEY}"},
        ).json()["data"]
        assert found[0]["path"].endswith("clinic-handbook.pdf") and found[0]["page"] == 4
        listed = httpx.get(f"{url}/v1/documents", headers={"Authorization": f"Bearer {KEY}"})
        assert sorted(Path(d["path"]).name for d in listed.json()["data"]) == sorted(
            p.name for p in Path(SAMPLES).iterdir()
        )


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install strace)")
def test_ragkit_serve_opens_no_connection_of_its_own(samples_copy: Path, tmp_path: Path) -> None:
    """At the system-call level: one listening socket on loopback, data sent only to the
    clients it accepted, not one connect()."""
    trace = tmp_path / "strace.log"
    wrap = (
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=socket,connect,bind,sendto,sendmsg",
        "-o",
        str(trace),
    )
    with ragkit_serve(samples_copy, wrap=wrap) as (url, _process):
        api = client(url)
        api.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": RECORDS}], stream=False
        )
        api.embeddings.create(input="visitor parking", model="auto")
        assert httpx.get(f"{url}/").status_code == 200
    calls = [line.split(None, 1)[1] for line in trace.read_text().splitlines() if " " in line]
    internet = [c for c in calls if "AF_INET" in c and c.startswith("socket(")]
    assert len(internet) == 1, internet
    binds = [c for c in calls if c.startswith("bind(")]
    assert binds and all('inet_addr("127.0.0.1")' in c for c in binds if "AF_INET" in c), binds
    assert [c for c in calls if c.startswith("connect(") and "AF_UNIX" not in c] == []
    sends = [c for c in calls if c.startswith(("sendto(", "sendmsg("))]
    assert any("HTTP/1.1 200" in c for c in sends), "strace saw none of the server's replies"
