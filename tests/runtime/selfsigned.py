"""A self-signed RSA certificate made with the standard library only (test helper).

Used by the HTTPS tests when the ``openssl`` command is not installed: RSA-2048 key generation
(Miller-Rabin), a minimal X.509 v3 certificate (subjectAltName for 127.0.0.1 and localhost)
signed with sha256WithRSAEncryption, PEM output. Not for production use.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
from pathlib import Path

_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def _probable_prime(n: int) -> bool:
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(32):
        a = secrets.randbelow(n - 3) + 2
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        c = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _probable_prime(c):
            return c


# -- DER ---------------------------------------------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def _int(v: int) -> bytes:
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return _tlv(0x02, b)


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    parts = [int(x) for x in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _utf8(s: str) -> bytes:
    return _tlv(0x0C, s.encode())


def _time(t: datetime.datetime) -> bytes:
    return _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


def _pem(label: str, der: bytes) -> str:
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def write_self_signed(cert_path: Path, key_path: Path, cn: str = "localhost") -> None:
    """Write a PEM certificate and its PKCS#1 private key."""
    e = 65537
    while True:
        p, q = _prime(1024), _prime(1024)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    n = p * q
    d = pow(e, -1, phi)
    sha256_rsa = _seq(_oid("1.2.840.113549.1.1.11"), b"\x05\x00")
    name = _seq(_tlv(0x31, _seq(_oid("2.5.4.3"), _utf8(cn))))
    now = datetime.datetime.now(datetime.UTC)
    validity = _seq(_time(now - datetime.timedelta(minutes=5)), _time(now + datetime.timedelta(days=1)))
    spki = _seq(
        _seq(_oid("1.2.840.113549.1.1.1"), b"\x05\x00"),
        _tlv(0x03, b"\x00" + _seq(_int(n), _int(e))),
    )
    san = _seq(_tlv(0x82, b"localhost"), _tlv(0x87, bytes([127, 0, 0, 1])))
    basic = _seq(_tlv(0x01, b"\xff"))  # CA:TRUE, so the cert can be its own trust anchor
    extensions = _tlv(
        0xA3,
        _seq(
            _seq(_oid("2.5.29.17"), _tlv(0x04, san)),
            _seq(_oid("2.5.29.19"), _tlv(0x01, b"\xff"), _tlv(0x04, basic)),
        ),
    )
    tbs = _seq(
        _tlv(0xA0, _int(2)),
        _int(secrets.randbits(63) | 1),
        sha256_rsa,
        name,
        validity,
        name,
        spki,
        extensions,
    )
    digest_info = _seq(_seq(_oid("2.16.840.1.101.3.4.2.1"), b"\x05\x00"), _tlv(0x04, hashlib.sha256(tbs).digest()))
    k = (n.bit_length() + 7) // 8
    padded = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
    sig = pow(int.from_bytes(padded, "big"), d, n).to_bytes(k, "big")
    cert = _seq(tbs, sha256_rsa, _tlv(0x03, b"\x00" + sig))
    key = _seq(
        _int(0), _int(n), _int(e), _int(d), _int(p), _int(q), _int(d % (p - 1)), _int(d % (q - 1)), _int(pow(q, -1, p))
    )
    cert_path.write_text(_pem("CERTIFICATE", cert))
    key_path.write_text(_pem("RSA PRIVATE KEY", key))
