"""Live mode: tail telemetry files and listen for syslog, committing micro-batches.

Files are followed by (device, inode) and byte offset; only complete lines are read. A
micro-batch (new lines of every file, syslog messages received) is written in ONE store
transaction together with the new file offsets (the ``watch.checkpoints`` site setting),
so a crash, even ``kill -9``, leaves either the whole batch and its offsets or neither:
a restart reads again exactly the lines not committed. Keeping the offsets in the store,
rather than in a file beside it, makes this exact without relying on de-duplication
(a BSD syslog time is resolved against the file's last change, so a line read again later
could get another id).

Rotation: when a configured path names a new inode, the old file is looked for in the
same folder (``app.log.1``) and read to its end first; a file that shrank below its offset
(copy-and-truncate) is read again from the start. A file found under a known inode whose
first bytes differ from those recorded (an inode number reused) is read from the start.

Network syslog cannot be read twice: a message is durable once its batch is committed.
UDP has no backpressure, so datagrams arriving while the queue is full are dropped and
counted; TCP stops reading while the queue is full (the sender's kernel buffers fill and
it slows), and bytes not yet read when the process dies are the sender's to resend.
Syslog over TLS (RFC 5425) is TCP behind a TLS handshake (optionally requiring a client
certificate); a failed handshake is counted and logged, and the listener goes on. RELP
answers each message ``200 OK`` only once the micro-batch holding it is committed, so a
RELP sender resends exactly what the store may not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import glob
import logging
import os
import re
import socket
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson
from blake3 import blake3
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, Field

from carewarden.config import load_yaml_model
from carewarden.connectors.base import MAX_RECORD_BYTES, Connector
from carewarden.errors import CarewardenError, ConfigError
from carewarden.model import Batch, Rejected, preview
from carewarden.services.ingest import coalesce
from carewarden.store import Store
from carewarden.telemetry import relp
from carewarden.telemetry.osquery import OsqueryConnector
from carewarden.telemetry.rows import EventRows
from carewarden.telemetry.suricata import SuricataConnector
from carewarden.telemetry.syslog import Clock, NotSyslog, SyslogConnector, parse, to_row
from carewarden.telemetry.winjson import WinJsonConnector
from carewarden.telemetry.zeek import ZeekConnector

CHECKPOINT_KEY = "watch.checkpoints"
HEAD_BYTES = 64  # fingerprint of a file's start, to tell a reused inode number
READ_BYTES = 8 << 20  # at most this much of one file per batch
UDP_BUFFER = 4 << 20  # asked of the kernel for the UDP socket
HANDSHAKE_SECONDS = 10.0  # a TLS client that has not finished its handshake by then is dropped
ACK_WAIT_SECONDS = 10.0  # on stop, how long RELP answers for the last batch may take to go out

log = logging.getLogger("carewarden.watch")

Kind = Literal["suricata", "zeek", "winjson", "syslog", "osquery"]


# -- configuration -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FileSpec(_Strict):
    path: str = Field(min_length=1)  # a file or a glob; relative to the config file
    kind: Kind


class TlsSpec(_Strict):
    """A server certificate and key (PEM, the key unencrypted); with ``client_ca``, clients
    must present a certificate signed by one of the CA certificates in that PEM file."""

    cert: str = Field(min_length=1)
    key: str = Field(min_length=1)
    client_ca: str | None = Field(default=None, min_length=1)


class TlsListenerSpec(TlsSpec):
    port: int = Field(ge=0, le=65535)


class RelpSpec(_Strict):
    port: int = Field(ge=0, le=65535)
    tls: TlsSpec | None = None


class SyslogSpec(_Strict):
    host: str = "127.0.0.1"
    udp: int | None = Field(default=None, ge=0, le=65535)
    tcp: int | None = Field(default=None, ge=0, le=65535)
    tls: TlsListenerSpec | None = None  # RFC 5425 (port 6514 by convention)
    relp: RelpSpec | None = None

    def tls_specs(self) -> Iterator[tuple[str, TlsSpec]]:
        """(config field, spec) of every listener with TLS."""
        if self.tls is not None:
            yield "syslog.tls", self.tls
        if self.relp is not None and self.relp.tls is not None:
            yield "syslog.relp.tls", self.relp.tls


class BatchSpec(_Strict):
    max_records: int = Field(default=5000, ge=1)
    max_seconds: float = Field(default=2.0, gt=0)


class WatchConfig(_Strict):
    files: list[FileSpec] = Field(default_factory=list)
    syslog: SyslogSpec | None = None
    batch: BatchSpec = Field(default_factory=BatchSpec)
    detect_every_seconds: float = Field(default=60.0, ge=0)
    queue_max_records: int = Field(default=50_000, ge=1)


def load_config(path: Path) -> WatchConfig:
    """The watch config; relative file paths are made relative to the config's folder. TLS
    certificates and keys are loaded once here, so that a missing or bad one is refused at
    start with the file named."""
    config = load_yaml_model(WatchConfig, path, "watch config")
    base = path.resolve().parent
    for spec in config.files:
        if not os.path.isabs(spec.path):
            spec.path = str(base / spec.path)
    for where, tls in config.syslog.tls_specs() if config.syslog else ():
        tls.cert = str(base / tls.cert)
        tls.key = str(base / tls.key)
        if tls.client_ca is not None:
            tls.client_ca = str(base / tls.client_ca)
        try:
            server_context(tls, where)
        except ConfigError as exc:
            raise ConfigError(str(exc), path=str(path)) from None
    return config


def _read_pem(where: str, name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{where}.{name}: {path}: cannot be read ({exc.strerror or exc})"
        ) from None


def server_context(spec: TlsSpec, where: str = "syslog.tls") -> ssl.SSLContext:
    """A TLS 1.2+ server context from ``spec``; a ConfigError names the field and the file
    at fault (missing, not PEM, an encrypted key, a key that does not match the cert)."""
    for name, path in (("cert", spec.cert), ("client_ca", spec.client_ca)):
        if path is not None:
            try:
                x509.load_pem_x509_certificates(_read_pem(where, name, path))
            except ValueError:
                raise ConfigError(f"{where}.{name}: {path}: holds no PEM certificate") from None
    try:
        serialization.load_pem_private_key(_read_pem(where, "key", spec.key), password=None)
    except TypeError:
        raise ConfigError(
            f"{where}.key: {spec.key}: the key is encrypted (give it unencrypted, readable "
            "only by the account that runs Carewarden)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{where}.key: {spec.key}: not a PEM private key") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(spec.cert, spec.key)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"{where}.key: {spec.key}: does not match the certificate {spec.cert} "
            f"({exc.reason or exc})"
        ) from None
    if spec.client_ca is not None:
        context.load_verify_locations(cafile=spec.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def connector_for(kind: Kind, zone: str) -> Connector:
    if kind == "syslog":
        return SyslogConnector(timezone=zone)
    if kind == "suricata":
        return SuricataConnector()
    if kind == "zeek":
        return ZeekConnector()
    if kind == "winjson":
        return WinJsonConnector()
    return OsqueryConnector()


# -- file tailing --------------------------------------------------------------------------


@dataclass
class Mark:
    """How far one file (by device and inode) has been committed."""

    path: str
    dev: int
    ino: int
    offset: int = 0
    head: str = ""  # BLAKE3 of the first head_len bytes
    head_len: int = 0

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}"


@dataclass
class Chunk:
    """Complete lines of one file, from ``mark.offset`` to ``new.offset``."""

    kind: Kind
    path: Path
    data: bytes
    header: bytes  # Zeek TSV's ``#`` lines, which the connector needs before any record
    new: Mark

    @property
    def lines(self) -> int:
        return self.data.count(b"\n")


def _fingerprint(handle: Any, length: int) -> str:
    handle.seek(0)
    return blake3(handle.read(length)).hexdigest()


def _cut(data: bytes, budget: int) -> int:
    """End of the last complete line within ``budget`` lines (0: none complete)."""
    if data.count(b"\n") <= budget:
        end = data.rfind(b"\n") + 1
    else:
        end = 0
        for _ in range(budget):
            end = data.index(b"\n", end) + 1
    if end == 0 and len(data) >= READ_BYTES:
        return len(data)  # a "line" larger than any record: the connector quarantines it
    return end


def _zeek_header(handle: Any) -> bytes:
    handle.seek(0)
    out = bytearray()
    for line in handle:
        if not line.startswith(b"#") or len(out) > MAX_RECORD_BYTES:
            break
        out += line
    return bytes(out)


class Tailer:
    """Follows the configured files; ``poll`` returns their new complete lines."""

    def __init__(self, specs: list[FileSpec], marks: dict[str, Mark]) -> None:
        self.specs = specs
        self.marks = marks
        self.notes: Counter[str] = Counter()

    def targets(self) -> Iterator[tuple[Kind, Path]]:
        for spec in self.specs:
            if any(c in spec.path for c in "*?["):
                for found in sorted(glob.glob(spec.path, recursive=True)):
                    if os.path.isfile(found):
                        yield spec.kind, Path(found)
            elif os.path.isfile(spec.path):
                yield spec.kind, Path(spec.path)

    def poll(self, budget: int) -> list[Chunk]:
        chunks: list[Chunk] = []
        seen: set[str] = set()
        for kind, path in self.targets():
            if budget <= 0:
                break
            try:
                st = path.stat()
            except OSError:
                continue
            key = f"{st.st_dev}:{st.st_ino}"
            # a file rotated away from this path: finish it first
            for old in [m for m in self.marks.values() if m.path == str(path) and m.key != key]:
                if old.key in seen:
                    continue
                moved = _find_inode(path.parent, old.dev, old.ino)
                if moved is None:
                    self.notes["rotated files gone before they were read to the end"] += 1
                    self.marks.pop(old.key, None)
                    continue
                seen.add(old.key)
                chunk = self._read(kind, moved, old, budget, rotated=True)
                if chunk is not None:
                    chunks.append(chunk)
                    budget -= chunk.lines
            if key in seen or budget <= 0:
                continue
            seen.add(key)
            mark = self.marks.get(key) or Mark(str(path), st.st_dev, st.st_ino)
            chunk = self._read(kind, path, mark, budget, rotated=False)
            if chunk is not None:
                chunks.append(chunk)
                budget -= chunk.lines
        return chunks

    def _read(self, kind: Kind, path: Path, mark: Mark, budget: int, rotated: bool) -> Chunk | None:
        try:
            handle = path.open("rb")
        except OSError:
            return None
        with handle:
            st = os.fstat(handle.fileno())
            if (st.st_dev, st.st_ino) != (mark.dev, mark.ino):
                return None  # replaced between stat and open: next poll
            offset = mark.offset
            if st.st_size < offset or (
                mark.head_len and _fingerprint(handle, mark.head_len) != mark.head
            ):
                self.notes["files truncated or replaced, read again from the start"] += 1
                offset = 0
            new = Mark(str(path) if not rotated else mark.path, mark.dev, mark.ino, offset,
                       mark.head if offset else "", mark.head_len if offset else 0)  # fmt: skip
            if rotated and st.st_size == offset:
                new.path = str(path)  # read to its end: no longer this path's file
                return Chunk(kind, path, b"", b"", new)
            handle.seek(offset)
            data = handle.read(READ_BYTES)
            end = _cut(data, budget)
            if end == 0:
                return None
            data = data[:end]
            new.offset = offset + end
            if new.head_len < HEAD_BYTES and new.offset > new.head_len:
                new.head_len = min(HEAD_BYTES, new.offset)
                new.head = _fingerprint(handle, new.head_len)
            if rotated and new.offset >= st.st_size:
                new.path = str(path)
            header = _zeek_header(handle) if kind == "zeek" and offset > 0 else b""
        return Chunk(kind, path, data, header, new)


def _find_inode(folder: Path, dev: int, ino: int) -> Path | None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.inode() == ino and entry.is_file() and entry.stat().st_dev == dev:
                return Path(entry.path)
        except OSError:
            continue
    return None


# -- committing ----------------------------------------------------------------------------


@dataclass
class BatchReport:
    at: dt.datetime
    file_lines: int = 0
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    dropped_udp: int = 0  # since the start
    queued: int = 0
    first_rejects: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.file_lines or self.messages)


class Watcher:
    """Micro-batches into the store: ``step`` reads and commits one batch."""

    def __init__(self, store: Store, config: WatchConfig, tmp: Path | None = None) -> None:
        self.store = store
        self.config = config
        self.zone = store.setting("site_tz") or "UTC"
        self.tailer = Tailer(config.files, load_marks(store))
        self.connectors = {
            kind: connector_for(kind, self.zone) for kind in {s.kind for s in config.files}
        }
        self.tmp = tmp or store.path / "tmp" / "watch"
        self.dropped_udp = 0

    def step(self, messages: list[tuple[str, bytes]], queued: int = 0) -> BatchReport:
        """Commit the files' new lines (up to the batch size) and ``messages``
        ((source, bytes) pairs) in one transaction with the new offsets."""
        report = BatchReport(dt.datetime.now(dt.UTC), queued=queued, dropped_udp=self.dropped_udp)
        budget = max(self.config.batch.max_records - len(messages), 1)
        chunks = self.tailer.poll(budget)
        report.file_lines = sum(c.lines for c in chunks)
        report.messages = len(messages)
        if not chunks and not messages:
            return report
        marks = dict(self.tailer.marks)
        for chunk in chunks:
            marks[chunk.new.key] = chunk.new
        with self.store.transaction():
            for chunk in chunks:
                if chunk.data:
                    self._write_chunk(chunk, report)
            if messages:
                self._write_messages(messages, report)
            self.store.set_setting(CHECKPOINT_KEY, dump_marks(marks))
        self.tailer.marks = marks
        return report

    def _write_chunk(self, chunk: Chunk, report: BatchReport) -> None:
        connector = self.connectors[chunk.kind]
        file_id = f"watch:{chunk.kind}:{uuid.uuid4().hex}"
        # The connector reads files: hand it these lines under the file's own name (Zeek
        # tells the log type by it), behind the file's header where it has one.
        self.tmp.mkdir(parents=True, exist_ok=True)
        part = self.tmp / chunk.path.name
        part.write_bytes(chunk.header + chunk.data)
        rejects: list[Rejected] = []
        try:
            for item in coalesce(connector.read(part)):
                if isinstance(item, Batch):
                    self._store_rows(item, file_id, report)
                else:
                    rejects.append(item)
        except CarewardenError as exc:
            rejects.append(Rejected(None, chunk.new.offset - len(chunk.data), str(exc), None))
        finally:
            part.unlink(missing_ok=True)
        self._finish(file_id, chunk.kind, str(chunk.path), rejects, report)

    def _write_messages(self, messages: list[tuple[str, bytes]], report: BatchReport) -> None:
        clock = Clock(ZoneInfo(self.zone), dt.datetime.now(dt.UTC).replace(tzinfo=None))
        file_id = f"watch:syslog-net:{uuid.uuid4().hex}"
        rows = EventRows(size=len(messages) + 1)
        rejects: list[Rejected] = []
        for number, (source, data) in enumerate(messages, 1):
            line = data.rstrip(b"\r\n").decode("utf-8", errors="replace")
            if "\x00" in line:
                rejects.append(Rejected(number, None, f"{source}: NUL bytes", preview(data)))
                continue
            try:
                rows.add_row(to_row(parse(line, clock), line))
            except NotSyslog as exc:
                rejects.append(Rejected(number, None, f"{source}: {exc}", preview(data)))
        batch = rows.flush()
        if batch is not None:
            self._store_rows(batch, file_id, report)
        self._finish(file_id, "syslog", "network", rejects, report)

    def _store_rows(self, batch: Batch, file_id: str, report: BatchReport) -> None:
        written, skipped = self.store.write(batch.table, batch.rows, file_id)
        report.stored += written
        report.duplicates += skipped

    def _finish(
        self, file_id: str, kind: str, path: str, rejects: list[Rejected], report: BatchReport
    ) -> None:
        if rejects:
            self.store.quarantine(file_id, kind, path, rejects)
            report.quarantined += len(rejects)
            for r in rejects[: 5 - len(report.first_rejects)]:
                report.first_rejects.append(f"{path}: {r.error}")
        for repeats in self.store.finish_file(file_id).values():
            report.stored -= repeats
            report.duplicates += repeats

    def drain_files(self) -> Iterator[BatchReport]:
        """Batches until the files hold no new complete line (``--once``)."""
        while True:
            report = self.step([])
            if report.empty:
                return
            yield report


def load_marks(store: Store) -> dict[str, Mark]:
    text = store.setting(CHECKPOINT_KEY)
    if not text:
        return {}
    doc = orjson.loads(text)
    marks = (Mark(**m) for m in doc.get("files", []))
    return {m.key: m for m in marks}


def dump_marks(marks: dict[str, Mark]) -> str:
    return orjson.dumps({"files": [asdict(m) for m in marks.values()]}).decode()


# -- network syslog ------------------------------------------------------------------------

_OCTETS = re.compile(rb"\d{1,7}")
STREAM_LIMIT = MAX_RECORD_BYTES + 16
READ_CHUNK = 64 << 10

Acked = asyncio.Future[None]
Received = tuple[str, bytes, Acked | None]  # source, message, RELP acknowledgement
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str], Awaitable[None]]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, watcher: Watcher, queue: asyncio.Queue[Received]) -> None:
        self.watcher = watcher
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.queue.put_nowait((f"udp:{addr[0]}", data, None))
        except asyncio.QueueFull:
            self.watcher.dropped_udp += 1


class _TlsAccept(asyncio.Protocol):
    """A new connection held unread until its TLS handshake starts, so that no byte of the
    client's hello is taken by a plain reader first."""

    def __init__(self, start: Callable[[asyncio.Transport], None]) -> None:
        self.start = start

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        self.start(transport)


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One RFC 6587 frame: octet-counted (``LEN SP MSG``) or newline-terminated, told apart
    per frame by a leading count; None at the end of the stream."""
    first = await reader.read(1)
    if not first:
        return None
    if first.isdigit():
        try:
            token = first + await reader.readuntil(b" ")
        except asyncio.IncompleteReadError as exc:
            return first + exc.partial or None
        if _OCTETS.fullmatch(token[:-1]):
            size = int(token[:-1])
            if size > MAX_RECORD_BYTES:
                raise ValueError(f"octet-counted frame of {size} bytes (over 1 MiB)")
            try:
                return await reader.readexactly(size)
            except asyncio.IncompleteReadError as exc:
                return exc.partial or None
        first = token
    try:
        return first + await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return (first + exc.partial) or None


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if peer else "?"


Status = Callable[[BatchReport], None]


async def run_live(
    watcher: Watcher,
    stop: asyncio.Event,
    status: Status | None = None,
    detect: Callable[[], None] | None = None,
    ready: Callable[[list[tuple[str, int]]], None] | None = None,
) -> None:
    """Listen, tail and commit until ``stop`` is set, then flush what was received."""
    config = watcher.config
    notes = watcher.tailer.notes
    queue: asyncio.Queue[Received] = asyncio.Queue(config.queue_max_records)
    loop = asyncio.get_running_loop()
    closers: list[Callable[[], None]] = []
    bound: list[tuple[str, int]] = []
    connections: set[asyncio.Task[Any]] = set()
    unanswered = 0  # RELP messages in the queue, their senders waiting for the answers

    def track(task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            connections.add(task)
            task.add_done_callback(connections.discard)

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str) -> None:
        """Syslog frames (RFC 6587; RFC 5425 over TLS) into the queue."""
        try:
            while (frame := await read_frame(reader)) is not None:
                if frame.strip():
                    await queue.put((source, frame, None))  # waits while full: backpressure
        except (ValueError, asyncio.LimitOverrunError, OSError) as exc:
            proto = source.partition(":")[0].upper()
            notes[f"{proto} connections closed: {type(exc).__name__}"] += 1
        finally:
            writer.close()

    async def serve_relp(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str
    ) -> None:
        """RELP: each ``syslog`` command answered once its micro-batch is committed."""
        nonlocal unanswered
        decoder = relp.Decoder(MAX_RECORD_BYTES)
        pending: set[Acked] = set()
        opened = False

        def answer(txnr: int, done: Acked) -> None:
            pending.discard(done)
            if writer.is_closing():
                return
            if done.cancelled() or done.exception() is not None:
                writer.close()  # not committed: unanswered, the sender sends it again
            else:
                writer.write(relp.response(txnr))

        try:
            while chunk := await reader.read(READ_CHUNK):
                for frame in decoder.feed(chunk):
                    if frame.command == "syslog" and opened:
                        done: Acked = loop.create_future()
                        await queue.put((source, frame.data, done))  # backpressure
                        pending.add(done)
                        unanswered += 1
                        done.add_done_callback(functools.partial(answer, frame.txnr))
                    elif frame.command == "open":
                        writer.write(relp.open_answer(frame.txnr, relp.offers(frame.data)))
                        opened = True
                    elif frame.command == "close":
                        if pending:
                            await asyncio.wait(set(pending))
                        if writer.is_closing():  # a batch failed to commit
                            return
                        writer.write(relp.Frame(frame.txnr, "rsp").encode())
                        await writer.drain()
                        return
                    else:
                        why = (
                            "open the session first"
                            if frame.command == "syslog"
                            else (f"command {frame.command} not supported")
                        )
                        writer.write(relp.response(frame.txnr, 500, why))
                await writer.drain()  # a sender that does not read its answers is not read
            if decoder.pending:
                notes["RELP connections closed inside a frame"] += 1
        except (relp.RelpError, OSError) as exc:
            notes[f"RELP connections closed: {type(exc).__name__}"] += 1
            log.warning("RELP connection from %s closed: %s", source, exc)
        finally:
            if pending and not writer.is_closing():  # stopping: answer the last batch
                await asyncio.wait(set(pending), timeout=ACK_WAIT_SECONDS)
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        track(asyncio.current_task())
        await pump(reader, writer, f"tcp:{_peer(writer.transport)}")

    async def serve_plain_relp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        track(asyncio.current_task())
        await serve_relp(reader, writer, f"relp:{_peer(writer.transport)}")

    def tls(context: ssl.SSLContext, handler: Handler, kind: str) -> Callable[[], _TlsAccept]:
        async def handshake(transport: asyncio.Transport) -> None:
            peer = _peer(transport)
            reader = asyncio.StreamReader(limit=STREAM_LIMIT)
            protocol = asyncio.StreamReaderProtocol(reader)
            try:
                secured = await loop.start_tls(
                    transport,
                    protocol,
                    context,
                    server_side=True,
                    ssl_handshake_timeout=HANDSHAKE_SECONDS,
                )
            except (OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", None) or type(exc).__name__
                notes[f"TLS handshakes failed ({kind}): {reason}"] += 1
                log.warning("TLS handshake from %s on the %s listener failed: %s", peer, kind, exc)
                transport.close()
                return
            if secured is None:  # the peer went away as the handshake ended
                transport.close()
                return
            protocol.connection_made(secured)
            writer = asyncio.StreamWriter(secured, protocol, reader, loop)
            await handler(reader, writer, f"{kind}:{peer}")

        def start(transport: asyncio.Transport) -> None:
            track(loop.create_task(handshake(transport)))

        return lambda: _TlsAccept(start)

    syslog = config.syslog
    if syslog is not None:
        host = syslog.host
        if syslog.udp is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(watcher, queue), local_addr=(host, syslog.udp)
            )
            closers.append(transport.close)
            sock = transport.get_extra_info("socket")
            if sock is not None:  # a larger kernel buffer rides out bursts during a commit
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER)
            bound.append(("udp", transport.get_extra_info("sockname")[1]))
        servers: list[tuple[str, asyncio.Server]] = []
        if syslog.tcp is not None:
            server = await asyncio.start_server(serve, host, syslog.tcp, limit=STREAM_LIMIT)
            servers.append(("tcp", server))
        if syslog.tls is not None:
            factory = tls(server_context(syslog.tls), pump, "tls")
            servers.append(("tls", await loop.create_server(factory, host, syslog.tls.port)))
        if syslog.relp is not None and syslog.relp.tls is not None:
            context = server_context(syslog.relp.tls, "syslog.relp.tls")
            factory = tls(context, serve_relp, "relp-tls")
            servers.append(("relp-tls", await loop.create_server(factory, host, syslog.relp.port)))
        elif syslog.relp is not None:
            server = await asyncio.start_server(
                serve_plain_relp, host, syslog.relp.port, limit=STREAM_LIMIT
            )
            servers.append(("relp", server))
        for name, server in servers:
            closers.append(server.close)
            bound.append((name, server.sockets[0].getsockname()[1]))
    if ready is not None:
        ready(bound)

    batch = config.batch
    last_detect = time.monotonic()

    async def commit(final: bool) -> BatchReport:
        nonlocal unanswered
        received: list[Received] = []
        while len(received) < batch.max_records and not queue.empty():
            received.append(queue.get_nowait())
        unanswered -= sum(done is not None for *_, done in received)
        messages = [(source, data) for source, data, _ in received]
        try:
            report = await asyncio.to_thread(watcher.step, messages, queue.qsize())
        except BaseException:
            for *_, done in received:
                if done is not None and not done.done():
                    done.cancel()  # not committed: RELP senders get no answer
            raise
        if status is not None and not report.empty:
            status(report)
        for *_, done in received:
            if done is not None and not done.done():
                done.set_result(None)  # committed: RELP answers 200 OK
        return report

    try:
        while not stop.is_set():
            deadline = time.monotonic() + batch.max_seconds
            before = queue.qsize()
            while (
                not stop.is_set()
                and queue.qsize() < batch.max_records
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(min(0.05, batch.max_seconds))
                # No sense waiting on: senders are held back by a full queue, or RELP
                # senders stopped sending (their window of unanswered messages is full).
                if queue.full() or (unanswered and queue.qsize() == before):
                    break
                before = queue.qsize()
            report = await commit(False)
            while report.file_lines >= batch.max_records // 2 and not stop.is_set():
                report = await commit(False)  # files behind: catch up without waiting
            every = config.detect_every_seconds
            if detect is not None and every and time.monotonic() - last_detect >= every:
                await asyncio.to_thread(detect)
                last_detect = time.monotonic()
    finally:
        for close in closers:
            close()
        for task in list(connections):
            task.cancel()
        try:
            # flush: what was queued, and the files' lines, until nothing is left
            while True:
                report = await commit(True)
                if report.empty and queue.empty():
                    break
        finally:
            if connections:  # RELP connections answer the flushed messages, then close
                await asyncio.wait(set(connections), timeout=ACK_WAIT_SECONDS)
