"""RELP: the framing (frames cut anywhere, data holding line feeds, malformed input raising
only RelpError) and `carewarden watch`'s RELP listener: N messages answered N `200 OK`, each
answer sent only once its micro-batch is committed, under backpressure and over mutual TLS;
a batch that fails to commit is not answered."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from test_watch_live import Live, message, seqs
from test_watch_tls import Pki, make_pki

from carewarden.errors import StoreError
from carewarden.services.watch import (
    BatchReport,
    BatchSpec,
    RelpSpec,
    SyslogSpec,
    TlsSpec,
    WatchConfig,
    Watcher,
    run_live,
)
from carewarden.store import Store
from carewarden.telemetry import relp
from carewarden.telemetry.relp import Decoder, Frame, RelpError

OPEN = b"relp_version=0\nrelp_software=librelp,1.10.0,https://www.rsyslog.com\ncommands=syslog"

# -- framing ---------------------------------------------------------------------------------


def test_frames_are_decoded_however_the_bytes_are_cut() -> None:
    frames = [
        Frame(1, "open", OPEN),
        Frame(2, "syslog", message(1) + b"\nsecond line\n"),  # line feeds inside the data
        Frame(3, "syslog", b"x"),
        Frame(4, "close"),
    ]
    stream = b"".join(f.encode() for f in frames)
    assert stream.endswith(b"4 close 0\n")
    for cut in range(len(stream) + 1):
        decoder = Decoder(1 << 20)
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert got == frames, cut
        assert decoder.pending == 0
    one_by_one = Decoder(1 << 20)
    assert [f for b in stream for f in one_by_one.feed(bytes([b]))] == frames


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"x 1 syslog 3 abc\n", "not a RELP frame header"),
        (b"1 syslog 3 abcd\n", "does not end with a line feed"),
        (b"1 syslog 5\n", "announces 5 bytes but has none"),
        (b"1 syslog 2000 " + b"a" * 10, "over 1,024"),
        (b"1 sys-log 3 abc\n", "not a RELP frame header"),
        (b"1234567890 syslog 3 abc\n", "not a RELP frame header"),  # txnr of 10 digits
    ],
)
def test_malformed_frames_raise(data: bytes, why: str) -> None:
    with pytest.raises(RelpError, match=why):
        Decoder(1024).feed(data)


def test_an_incomplete_frame_waits() -> None:
    decoder = Decoder(1024)
    assert decoder.feed(b"12 sysl") == []
    assert decoder.feed(b"og 3 ab") == []
    assert decoder.pending == len(b"12 syslog 3 ab")
    assert decoder.feed(b"c\n") == [Frame(12, "syslog", b"abc")]


@given(st.binary(max_size=200))
@example(b"1 syslog 0 \n")
@example(b"0 rsp 6 200 OK\n")
def test_any_bytes_decode_or_raise_relp_error(data: bytes) -> None:
    decoder = Decoder(64)
    try:
        frames = decoder.feed(data)
    except RelpError:
        return
    for frame in frames:
        assert len(frame.data) <= 64
        assert Decoder(64).feed(frame.encode()) == [frame]  # and it encodes back


def test_answers() -> None:
    assert relp.response(7) == b"7 rsp 6 200 OK\n"
    assert relp.response(8, 500, "no") == b"8 rsp 6 500 no\n"
    opened = Decoder(1024).feed(relp.open_answer(1, relp.offers(OPEN)))[0]
    assert opened.data.startswith(b"200 OK\n")
    assert relp.offers(opened.data.partition(b"\n")[2])["commands"] == "syslog"
    refused = Decoder(1024).feed(relp.open_answer(1, {"commands": "other"}))[0]
    assert refused.data.startswith(b"500 ")


# -- the listener ----------------------------------------------------------------------------


class Client:
    """A RELP sender with a window: sends every message, then reads the answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = Decoder(1 << 20)
        self.txnr = 0

    @classmethod
    async def connect(cls, port: int, context: ssl.SSLContext | None = None) -> Client:
        host = "localhost" if context else None
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname=host
        )
        return cls(reader, writer)

    def send(self, command: str, data: bytes = b"") -> int:
        self.txnr += 1
        self.writer.write(Frame(self.txnr, command, data).encode())
        return self.txnr

    async def answers(self, count: int) -> list[Frame]:
        got: list[Frame] = []
        while len(got) < count:
            chunk = await asyncio.wait_for(self.reader.read(1 << 16), 20)
            if not chunk:
                break
            got += self.decoder.feed(chunk)
        return got

    async def session(self, numbers: range) -> tuple[list[Frame], list[int]]:
        """open, one syslog command per number, and the answers to them."""
        self.send("open", OPEN)
        sent = [self.send("syslog", message(n)) for n in numbers]
        await self.writer.drain()
        return await self.answers(len(sent) + 1), sent

    async def close(self) -> list[Frame]:
        self.send("close")
        await self.writer.drain()
        answers = await self.answers(1)
        self.writer.close()
        return answers


def relp_config(queue: int = 50_000, tls: TlsSpec | None = None) -> WatchConfig:
    return WatchConfig(
        syslog=SyslogSpec(relp=RelpSpec(port=0, tls=tls)),
        batch=BatchSpec(max_records=200, max_seconds=0.1),
        queue_max_records=queue,
        detect_every_seconds=0,
    )


@pytest.mark.parametrize("queue", [50_000, 7])
def test_n_messages_get_n_answers_each_after_its_commit(store: Store, queue: int) -> None:
    live = Live(store, relp_config(queue))
    count = 1000 if queue > 1000 else 300
    seen: dict[str, object] = {}

    async def send(live: Live) -> None:
        client = await Client.connect(live.ports["relp"])
        answers, sent = await client.session(range(count))
        seen["committed when answered"] = live.stored()  # answers follow commits
        seen["answers"] = answers
        seen["sent"] = sent
        seen["close"] = await client.close()

    live.run(send, count)
    answers = seen["answers"]
    assert isinstance(answers, list)
    assert answers[0].txnr == 1 and answers[0].data.startswith(b"200 OK\nrelp_version=0")
    assert [a.txnr for a in answers[1:]] == seen["sent"]
    assert all(a.command == "rsp" and a.data == b"200 OK" for a in answers[1:])
    assert seen["committed when answered"] == count
    assert seen["close"] == [Frame(count + 2, "rsp")]
    assert seqs(store) == list(range(count))
    assert store.query("SELECT count(*) FROM security_event")[0][0] == count
    assert max(r.queued for r in live.reports) <= queue


def test_a_windowed_sender_is_answered_without_waiting_for_the_batch_time(store: Store) -> None:
    """A RELP sender stops at its window of unanswered messages (rsyslog: 128): the batch is
    committed as soon as it stops, not when ``max_seconds`` (here 30 s) is up."""
    slow = relp_config()
    slow.batch = BatchSpec(max_records=5000, max_seconds=30)
    live = Live(store, slow)
    window, windows = 128, 8

    async def send(live: Live) -> None:
        client = await Client.connect(live.ports["relp"])
        client.send("open", OPEN)
        await client.answers(1)
        for w in range(windows):
            for n in range(w * window, (w + 1) * window):
                client.send("syslog", message(n))
            await client.writer.drain()
            answers = await asyncio.wait_for(client.answers(window), 20)
            assert [a.data for a in answers] == [b"200 OK"] * window

    live.run(send, window * windows)
    assert seqs(store) == list(range(window * windows))
    assert len(live.reports) >= windows  # a commit per window


def test_syslog_before_open_and_unknown_commands_are_refused(store: Store) -> None:
    live = Live(store, relp_config())
    seen: dict[str, list[Frame]] = {}

    async def send(live: Live) -> None:
        client = await Client.connect(live.ports["relp"])
        client.send("syslog", message(99))
        client.send("starttls")
        await client.writer.drain()
        seen["early"] = await client.answers(2)
        answers, _ = await client.session(range(3))
        seen["after"] = answers

    live.run(send, 3)
    assert [a.data[:4] for a in seen["early"]] == [b"500 ", b"500 "]
    assert all(a.data == b"200 OK" for a in seen["after"][1:])
    assert seqs(store) == [0, 1, 2]  # not the one sent before open


def test_relp_over_mutual_tls(store: Store, tmp_path: Path) -> None:
    pki: Pki = make_pki(tmp_path / "pki")
    spec = TlsSpec(cert=str(pki.server_cert), key=str(pki.server_key), client_ca=str(pki.ca))
    live = Live(store, relp_config(tls=spec))
    seen: dict[str, list[Frame]] = {}

    async def send(live: Live) -> None:
        client = await Client.connect(live.ports["relp-tls"], pki.client())
        seen["answers"], _ = await client.session(range(50))

    live.run(send, 50)
    assert [a.data for a in seen["answers"][1:]] == [b"200 OK"] * 50
    assert seqs(store) == list(range(50))


class FailingWatcher(Watcher):
    def step(self, messages: list[tuple[str, bytes]], queued: int = 0) -> BatchReport:
        if messages:
            raise StoreError("disk full")
        return super().step(messages, queued)


def test_a_batch_that_fails_to_commit_is_not_answered(store: Store) -> None:
    watcher = FailingWatcher(store, relp_config())

    async def main() -> list[Frame]:
        stop = asyncio.Event()
        ports: dict[str, int] = {}
        ready = asyncio.Event()

        def bound(found: list[tuple[str, int]]) -> None:
            ports.update(found)
            ready.set()

        task = asyncio.create_task(run_live(watcher, stop, ready=bound))
        await ready.wait()
        client = await Client.connect(ports["relp"])
        answers, _ = await client.session(range(3))  # read until the server closes
        with pytest.raises(StoreError):
            await task
        return answers

    answers = asyncio.run(main())
    assert [a.txnr for a in answers] == [1]  # open answered; no syslog command was
    assert seqs(store) == []
