"""The encrypted container on its own: any length round-trips, every archive has its own
salt and data key, key files are private and checked, a forged header cannot ask for an
unbounded scrypt."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carewarden.backup import crypto
from carewarden.backup.crypto import (
    HEADER,
    DecryptingReader,
    EncryptingWriter,
    Secret,
    passphrase_secret,
)
from carewarden.errors import BackupError, RequestError

KEY = Secret(key=bytes(range(32)), source="test key")
CHUNK = 4096


def seal(data: bytes, secret: Secret = KEY, pieces: int = 1) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, secret, chunk_size=CHUNK)
    step = max(1, len(data) // pieces)
    for at in range(0, len(data), step):
        writer.write(data[at : at + step])
    writer.finish()
    return out.getvalue()


def unseal(sealed: bytes, secret: Secret = KEY) -> bytes:
    return DecryptingReader(io.BytesIO(sealed), secret).read()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_every_length_round_trips(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    sealed = seal(data, pieces=3)
    assert unseal(sealed) == data
    chunks = max(1, -(-size // CHUNK))
    assert len(sealed) == HEADER.size + chunks * (4 + 16) + size  # length + tag per chunk


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=3 * CHUNK), pieces=st.integers(1, 9))
def test_writes_of_any_shape_round_trip(data: bytes, pieces: int) -> None:
    assert unseal(seal(data, pieces=pieces)) == data


def test_each_archive_has_its_own_salt_and_ciphertext() -> None:
    """The same content under the same key gives unrelated archives (a fresh salt, hence a
    fresh data key); the key check, the key's id, stays the same."""
    data = b"the same content" * 1000
    first, second = seal(data), seal(data)
    assert first[18:50] != second[18:50]  # salt
    assert first[50:66] == second[50:66]  # key check
    assert first[HEADER.size + 4 : HEADER.size + 64] != second[HEADER.size + 4 : HEADER.size + 64]
    assert crypto.key_id(bytes(range(32))) == first[50:58].hex()


def test_no_plaintext_in_the_archive() -> None:
    data = b"PATIENT Jane Doe MRN 0001234 " * 500
    assert b"Jane Doe" not in seal(data)


def test_passphrase_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    """A passphrase typed in another Unicode form (composed or not) opens the archive."""
    monkeypatch.setattr(crypto, "SCRYPT_LOG2_N", 14)
    sealed = seal(b"data", passphrase_secret("caf\u00e9 au lait, s'il vous pla\u00eet"))
    assert unseal(sealed, passphrase_secret("cafe\u0301 au lait, s'il vous pla\u00eet")) == b"data"


def test_forged_scrypt_cost_is_refused_before_running_it() -> None:
    header = bytearray(seal(b"x", passphrase_secret("p" * 20))[: HEADER.size])
    header[11] = 40  # log2(N) = 40: a terabyte of memory
    with pytest.raises(BackupError, match="scrypt parameters out of range"):
        unseal(bytes(header) + b"\0" * 64, passphrase_secret("p" * 20))


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    identity = crypto.generate_key_file(path)
    assert len(path.read_bytes()) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not crypto.key_file_exposed(path)
    assert crypto.key_id(crypto.load_key_file(path).key or b"") == identity
    before = path.read_bytes()
    with pytest.raises(RequestError, match="never overwritten"):
        crypto.generate_key_file(path)
    assert path.read_bytes() == before
    path.chmod(0o644)
    assert crypto.key_file_exposed(path)


def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my passphrase is hunter2\n")
    with pytest.raises(RequestError, match="not a backup key file: it holds 25 bytes"):
        crypto.load_key_file(path)
    with pytest.raises(RequestError, match="no such key file"):
        crypto.load_key_file(tmp_path / "absent.key")


def test_secret_repr_hides_the_key() -> None:
    assert "0, 1, 2" not in repr(KEY) and "\\x00\\x01" not in repr(KEY)
    assert "hunter" not in repr(passphrase_secret("hunter2 hunter2"))
