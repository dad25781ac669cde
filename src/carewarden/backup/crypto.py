"""The encrypted container of a backup: a header, then the content in authenticated chunks.

Layout (integers big-endian)::

    header   magic "CWBACKUP" | format u16 | kdf u8 | scrypt log2(N) u8, r u8, p u8
             | chunk size u32 | salt 32 bytes | key check 16 bytes            (66 bytes)
    chunk i  length u32 | AES-256-GCM ciphertext of <= chunk size bytes + 16-byte tag

The data key is HKDF-SHA256 of the master key with the archive's random salt, so every
archive has its own key even when one key file makes them all, and the nonce of chunk ``i``
is simply ``i``. Each chunk's associated data is the whole header, ``i`` and a flag set on
the last chunk only: a changed byte anywhere, chunks swapped or dropped, an archive cut
short at a chunk boundary and bytes appended after its end all fail authentication, and the
reader says which of these it found.

The master key is either the 32 bytes of a key file (``carewarden backup keygen``) or
scrypt of a passphrase with the archive's salt. The key check is a value derived from the
master key (HKDF, its own label): a wrong key is told apart from a damaged chunk, and for a
key file it is the same in every archive, so it doubles as the key's id.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from carewarden.errors import BackupError, RequestError

if TYPE_CHECKING:
    from typing_extensions import Buffer

MAGIC = b"CWBACKUP"
FORMAT_VERSION = 1
KDF_KEY_FILE = 1
KDF_SCRYPT = 2
HEADER = struct.Struct(">8sHBBBBI32s16s")
KEY_BYTES = 32
TAG_BYTES = 16
CHUNK_SIZE = 1 << 20
# scrypt cost for new archives: N = 2**17, r = 8 (128 MiB, about half a second). A reader
# accepts what the header says within these bounds (a forged header cannot ask for 1 TiB).
SCRYPT_LOG2_N = 17
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_BOUNDS = {"log2_n": (14, 22), "r": (1, 32), "p": (1, 16)}
CHUNK_BOUNDS = (4096, 64 << 20)
PASSPHRASE_ENV = "CAREWARDEN_BACKUP_PASSPHRASE"
MIN_PASSPHRASE = 12

_CHECK_LABEL = b"carewarden backup v1 key check"
_DATA_LABEL = b"carewarden backup v1 data key"


@dataclass(frozen=True)
class Secret:
    """What opens an archive: the 32 bytes of a key file, or a passphrase."""

    key: bytes | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)
    source: str = ""  # where it came from, for messages ("key file K", "$CAREWARDEN_…")

    @property
    def kind(self) -> str:
        return "key file" if self.key is not None else "passphrase"


def _hkdf(master: bytes, label: bytes, salt: bytes | None = None, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=label).derive(master)


def key_id(key: bytes) -> str:
    """The id of a key file's key (the first 8 bytes of its key check, in hex): printed by
    ``keygen`` and named by an archive that needs another key."""
    return _hkdf(key, _CHECK_LABEL, length=TAG_BYTES)[:8].hex()


def generate_key_file(path: Path) -> str:
    """Write 32 random bytes to a new file ``path`` (mode 0600); return the key's id."""
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise RequestError(f"{path} exists: a key file is never overwritten") from None
    except OSError as exc:
        raise RequestError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key_id(key)


def load_key_file(path: Path) -> Secret:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise RequestError(f"no such key file: {path}") from None
    except OSError as exc:
        raise RequestError(f"cannot read key file {path}: {exc.strerror}") from None
    if len(key) != KEY_BYTES:
        raise RequestError(
            f"{path} is not a backup key file: it holds {len(key)} bytes, a key holds "
            f"{KEY_BYTES} (make one with `carewarden backup keygen --out FILE`)"
        )
    return Secret(key=key, source=f"key file {path}")


def key_file_exposed(path: Path) -> bool:
    """Whether others than the owner may read the key file (it should be mode 0600)."""
    return os.name == "posix" and bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def passphrase_secret(passphrase: str) -> Secret:
    # One normal form: the same passphrase typed on another system opens the archive.
    return Secret(passphrase=unicodedata.normalize("NFC", passphrase), source=f"${PASSPHRASE_ENV}")


@dataclass(frozen=True)
class Header:
    version: int
    kdf: int
    log2_n: int
    r: int
    p: int
    chunk_size: int
    salt: bytes
    key_check: bytes

    def pack(self) -> bytes:
        return HEADER.pack(
            MAGIC,
            self.version,
            self.kdf,
            self.log2_n,
            self.r,
            self.p,
            self.chunk_size,
            self.salt,
            self.key_check,
        )

    @classmethod
    def unpack(cls, raw: bytes) -> Header:
        if len(raw) < len(MAGIC) or raw[: len(MAGIC)] != MAGIC:
            raise BackupError("not a Carewarden backup archive (no CWBACKUP header)")
        if len(raw) < HEADER.size:
            raise BackupError("the archive is truncated: it ends inside its header")
        _, version, kdf, log2_n, r, p, chunk_size, salt, check = HEADER.unpack(raw)
        if version != FORMAT_VERSION:
            raise BackupError(
                f"the archive has format version {version}; this Carewarden reads version "
                f"{FORMAT_VERSION} (a newer Carewarden made it, or its header is damaged)"
            )
        header = cls(version, kdf, log2_n, r, p, chunk_size, salt, check)
        if kdf not in (KDF_KEY_FILE, KDF_SCRYPT) or not (
            CHUNK_BOUNDS[0] <= chunk_size <= CHUNK_BOUNDS[1]
        ):
            raise BackupError("the archive's header is damaged (unknown key kind or chunk size)")
        if kdf == KDF_SCRYPT and any(
            not low <= getattr(header, name) <= high for name, (low, high) in SCRYPT_BOUNDS.items()
        ):
            raise BackupError("the archive's header is damaged (scrypt parameters out of range)")
        return header


def _master(secret: Secret, kdf: int, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if kdf == KDF_KEY_FILE:
        assert secret.key is not None
        return secret.key
    assert secret.passphrase is not None
    scrypt = Scrypt(salt=salt, length=KEY_BYTES, n=1 << log2_n, r=r, p=p)
    return scrypt.derive(secret.passphrase.encode("utf-8"))


def _nonce(index: int) -> bytes:
    return b"\0\0\0\0" + index.to_bytes(8, "big")


def _associated(header: bytes, index: int, final: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\1" if final else b"\0")


class EncryptingWriter(io.RawIOBase):
    """A write-only stream that encrypts what it is given into ``out``, chunk by chunk
    (memory: one chunk). :meth:`finish` writes the final chunk; without it the archive is
    incomplete, and a reader says so."""

    def __init__(self, out: BinaryIO, secret: Secret, chunk_size: int | None = None) -> None:
        super().__init__()
        chunk_size = chunk_size or CHUNK_SIZE
        salt = secrets.token_bytes(32)
        kdf = KDF_KEY_FILE if secret.key is not None else KDF_SCRYPT
        log2_n, r, p = (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P) if kdf == KDF_SCRYPT else (0, 0, 0)
        master = _master(secret, kdf, salt, log2_n, r, p)
        check = _hkdf(master, _CHECK_LABEL, length=TAG_BYTES)
        header = Header(FORMAT_VERSION, kdf, log2_n, r, p, chunk_size, salt, check)
        self._header = header.pack()
        self._aead = AESGCM(_hkdf(master, _DATA_LABEL, salt=salt))
        self._out = out
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self._finished = False
        self.bytes_in = 0
        out.write(self._header)
        self.bytes_out = len(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:
        if self._finished:
            raise ValueError("write after finish()")
        view = memoryview(data)
        self._buffer += view
        self.bytes_in += view.nbytes
        # Keep the last chunk's worth back: only finish() knows which chunk is the last.
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]
        return view.nbytes

    def flush(self) -> None:
        if not self._out.closed:  # also called when this object is collected
            self._out.flush()

    def _emit(self, plain: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(
            _nonce(self._index), plain, _associated(self._header, self._index, final)
        )
        self._out.write(len(sealed).to_bytes(4, "big"))
        self._out.write(sealed)
        self.bytes_out += 4 + len(sealed)
        self._index += 1

    def finish(self) -> None:
        if not self._finished:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._finished = True
            self._out.flush()


class DecryptingReader(io.RawIOBase):
    """A read-only stream of the content of an archive; every chunk is authenticated before
    a byte of it is returned, and the end of the stream is only reached after the final
    chunk (read to the end to know the archive is whole)."""

    def __init__(self, source: BinaryIO, secret: Secret) -> None:
        super().__init__()
        raw = source.read(HEADER.size)
        header = Header.unpack(raw)
        self.header = header
        if header.kdf == KDF_SCRYPT and secret.passphrase is None:
            raise RequestError(
                f"the archive was encrypted with a passphrase: set {PASSPHRASE_ENV} to open it"
            )
        if header.kdf == KDF_KEY_FILE and secret.key is None:
            raise RequestError(
                "the archive was encrypted with a key file (key id "
                f"{header.key_check[:8].hex()}): pass --key-file"
            )
        master = _master(secret, header.kdf, header.salt, header.log2_n, header.r, header.p)
        check = _hkdf(master, _CHECK_LABEL, length=TAG_BYTES)
        if not secrets.compare_digest(check, header.key_check):
            if header.kdf == KDF_KEY_FILE:
                raise BackupError(
                    f"wrong key: the archive was made with key id {header.key_check[:8].hex()}"
                    f", the {secret.source} is key id {check[:8].hex()} (or the archive's "
                    "header is damaged)"
                )
            raise BackupError(
                "wrong passphrase: it does not open this archive (or the archive's header is "
                "damaged)"
            )
        self._aead = AESGCM(_hkdf(master, _DATA_LABEL, salt=header.salt))
        self._header = raw
        self._source = source
        self._index = 0
        self._offset = HEADER.size
        self._next_head: bytes | None = None
        self._plain = memoryview(b"")
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._plain:
            if self._ended:
                return 0
            self._plain = memoryview(self._next_chunk())
        n = min(len(buffer), len(self._plain))
        buffer[:n] = self._plain[:n]
        self._plain = self._plain[n:]
        return n

    def _read(self, n: int) -> bytes:
        parts = []
        while n > 0:
            part = self._source.read(n)
            if not part:
                break
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    def _opens(self, body: bytes, final: bool) -> bytes | None:
        i = self._index
        try:
            return self._aead.decrypt(_nonce(i), body, _associated(self._header, i, final))
        except InvalidTag:
            return None

    def _next_chunk(self) -> bytes:
        i, start = self._index, self._offset
        head = self._next_head if self._next_head is not None else self._read(4)
        self._next_head = None
        if not head:
            raise BackupError(
                f"the archive is truncated: it ends after chunk {i - 1}, before its final chunk"
                if i
                else "the archive is truncated: it holds nothing after its header"
            )
        if len(head) < 4:
            raise BackupError(f"the archive is truncated: it ends inside chunk {i}")
        length = int.from_bytes(head, "big")
        if not TAG_BYTES <= length <= self.header.chunk_size + TAG_BYTES:
            raise BackupError(
                f"chunk {i} of the archive (at byte {start:,}) is damaged: impossible length"
            )
        body = self._read(length)
        if len(body) < length:
            raise BackupError(
                f"the archive is truncated: it ends inside chunk {i} (at byte {start:,}), or "
                "that chunk's length is damaged"
            )
        ahead = self._read(4)
        last_in_file = not ahead
        self._next_head = ahead or None
        plain = self._opens(body, final=last_in_file)
        if plain is None:
            if self._opens(body, final=not last_in_file) is not None:
                raise BackupError(
                    f"the archive is truncated: it ends after chunk {i}, before its final chunk"
                    if last_in_file
                    else f"bytes were appended to the archive after its final chunk ({i})"
                )
            raise BackupError(
                f"chunk {i} of the archive (bytes {start:,}-{start + 4 + length:,}) is damaged "
                "or altered: it fails authentication"
            )
        self._index += 1
        self._offset += 4 + length
        self._ended = last_in_file
        return plain

    def drain(self) -> int:
        """Read (and authenticate) the rest of the stream; return how many bytes were left."""
        left = 0
        while chunk := self.read(1 << 20):
            left += len(chunk)
        return left
