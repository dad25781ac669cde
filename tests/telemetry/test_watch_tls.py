"""`carewarden watch` syslog over TLS (RFC 5425): octet-counted frames over TLS stored
exactly once, client certificates required under mutual TLS, failed handshakes (no client
certificate, a plain-TCP client, a silent one) counted without stopping the listener, and
bad certificate or key files refused at start with the file named."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_watch_live import Live, message, seqs
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.errors import ConfigError
from carewarden.services import watch
from carewarden.services.watch import (
    BatchSpec,
    SyslogSpec,
    TlsListenerSpec,
    WatchConfig,
    load_config,
)
from carewarden.store import Store

# -- a throwaway PKI -------------------------------------------------------------------------

Key = ec.EllipticCurvePrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(
    subject: str, key: Key, issuer: tuple[x509.Certificate, Key] | None, *, ca: bool, server: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    else:
        usage = (
            x509.ExtendedKeyUsageOID.SERVER_AUTH
            if server
            else (x509.ExtendedKeyUsageOID.CLIENT_AUTH)
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(folder: Path, stem: str, cert: x509.Certificate, key: Key) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate from another CA
    rogue_key: Path

    def client(self, *, cert: bool = True, rogue: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        if rogue:
            context.load_cert_chain(self.rogue_cert, self.rogue_key)
        elif cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("Carewarden test CA", ca_key, None, ca=True, server=False)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("localhost", server_key, (ca, ca_key), ca=False, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue("fw1.hospital.test", client_key, (ca, ca_key), ca=False, server=False)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = _issue("Other CA", rogue_ca_key, None, ca=True, server=False)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _issue("fw1.hospital.test", rogue_key, (rogue_ca, rogue_ca_key), ca=False, server=False)
    return Pki(
        folder / "ca.pem",
        *_write(folder, "server", server, server_key),
        *_write(folder, "client", client, client_key),
        *_write(folder, "rogue", rogue, rogue_key),
    )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def tls_config(pki: Pki, *, mutual: bool, queue: int = 50_000) -> WatchConfig:
    spec = TlsListenerSpec(
        port=0,
        cert=str(pki.server_cert),
        key=str(pki.server_key),
        client_ca=str(pki.ca) if mutual else None,
    )
    return WatchConfig(
        syslog=SyslogSpec(tls=spec),
        batch=BatchSpec(max_records=200, max_seconds=0.1),
        detect_every_seconds=0,
        queue_max_records=queue,
    )


def frame(n: int) -> bytes:
    body = message(n)
    return b"%d %s" % (len(body), body)


async def send_tls(port: int, context: ssl.SSLContext, numbers: range) -> None:
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )
    for n in numbers:
        writer.write(frame(n))
        if n % 100 == 99:
            await writer.drain()
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def refused(port: int, context: ssl.SSLContext, n: int) -> bool:
    """Whether the server ends a TLS connection from ``context`` that sent one frame."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="localhost"
        )
        writer.write(frame(n))
        await writer.drain()
        data = await asyncio.wait_for(reader.read(100), 10)
    except (ssl.SSLError, ConnectionError):
        return True  # TLS 1.2 fails the handshake; TLS 1.3 sends an alert after it
    writer.close()
    return data == b""


def failures(live: Live) -> int:
    notes = live.watcher.tailer.notes
    return sum(count for note, count in notes.items() if note.startswith("TLS handshakes failed"))


# -- tests -----------------------------------------------------------------------------------


def test_tls_frames_are_stored_exactly_once(store: Store, pki: Pki) -> None:
    live = Live(store, tls_config(pki, mutual=False))

    async def send(live: Live) -> None:
        await send_tls(live.ports["tls"], pki.client(cert=False), range(0, 400))
        await send_tls(live.ports["tls"], pki.client(cert=False), range(400, 600))

    live.run(send, 600)
    assert seqs(store) == list(range(600))
    assert store.query("SELECT count(*) FROM security_event")[0][0] == 600
    assert failures(live) == 0


def test_mutual_tls_refuses_clients_without_a_certificate_of_the_ca(store: Store, pki: Pki) -> None:
    live = Live(store, tls_config(pki, mutual=True))
    outcome: dict[str, bool] = {}

    async def send(live: Live) -> None:
        port = live.ports["tls"]
        outcome["no cert"] = await refused(port, pki.client(cert=False), 9001)
        outcome["other CA"] = await refused(port, pki.client(rogue=True), 9002)
        await send_tls(port, pki.client(), range(100))  # the listener goes on

    live.run(send, 100)
    assert outcome == {"no cert": True, "other CA": True}
    assert seqs(store) == list(range(100))  # and nothing of the refused clients
    assert failures(live) == 2


def test_plain_and_silent_clients_on_the_tls_port_do_not_stop_it(
    store: Store, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "HANDSHAKE_SECONDS", 0.5)
    live = Live(store, tls_config(pki, mutual=False))
    closed: dict[str, bytes] = {}

    async def send(live: Live) -> None:
        port = live.ports["tls"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(message(n) + b"\n" for n in range(5000, 5010)))  # plain syslog
        await writer.drain()
        closed["plain"] = await asyncio.wait_for(reader.read(100), 10)
        writer.close()
        silent, quiet = await asyncio.open_connection("127.0.0.1", port)
        closed["silent"] = await asyncio.wait_for(silent.read(100), 10)  # dropped at 0.5 s
        quiet.close()
        await send_tls(port, pki.client(cert=False), range(50))

    live.run(send, 50)
    assert seqs(store) == list(range(50))
    assert closed["silent"] == b""
    assert not closed["plain"].startswith(b"<")  # at most a TLS alert, never an echo
    assert failures(live) == 2


def _config_file(tmp_path: Path, pki: Pki, **override: str) -> Path:
    tls = {"port": "0", "cert": pki.server_cert.name, "key": pki.server_key.name}
    tls.update(override)
    body = ", ".join(f"{k}: {v}" for k, v in tls.items())
    path = pki.ca.parent / "watch.yaml"  # relative paths: beside the config
    path.write_text(f"syslog: {{tls: {{{body}}}}}\ndetect_every_seconds: 0\n")
    return path


def test_relative_certificate_paths_are_read_beside_the_config(tmp_path: Path, pki: Pki) -> None:
    config = load_config(_config_file(tmp_path, pki, client_ca="ca.pem"))
    assert config.syslog is not None and config.syslog.tls is not None
    assert config.syslog.tls.cert == str(pki.server_cert)
    assert config.syslog.tls.client_ca == str(pki.ca)


@pytest.mark.parametrize(
    ("override", "field", "file", "why"),
    [
        ({"cert": "missing.pem"}, "syslog.tls.cert", "missing.pem", "cannot be read"),
        ({"cert": "server.key"}, "syslog.tls.cert", "server.key", "holds no PEM certificate"),
        ({"key": "garbage.key"}, "syslog.tls.key", "garbage.key", "not a PEM private key"),
        ({"key": "client.key"}, "syslog.tls.key", "client.key", "does not match"),
        ({"key": "locked.key"}, "syslog.tls.key", "locked.key", "the key is encrypted"),
        ({"client_ca": "nope.pem"}, "syslog.tls.client_ca", "nope.pem", "cannot be read"),
    ],
)
def test_bad_certificate_files_are_refused_naming_the_file(
    tmp_path: Path, pki: Pki, override: dict[str, str], field: str, file: str, why: str
) -> None:
    folder = pki.ca.parent
    (folder / "garbage.key").write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n")
    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
    (folder / "locked.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    path = _config_file(tmp_path, pki, **override)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: {field}: {folder / file}: ")
    assert why in text


def test_watch_refuses_a_bad_key_at_start_without_a_traceback(tmp_path: Path, pki: Pki) -> None:
    path = _config_file(tmp_path, pki, key="client.key")
    result = CliRunner().invoke(
        app, ["watch", "--config", str(path), "--store", str(tmp_path / "store"), "--once"]
    )
    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert "client.key" in output and "does not match" in output
    assert "Traceback" not in result.output
    assert not (tmp_path / "store").exists()  # refused before the store was opened
