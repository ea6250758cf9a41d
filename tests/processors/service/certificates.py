"""A throwaway CA with a server certificate (localhost, 127.0.0.1) and a client certificate."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def read(self, name: str) -> bytes:
        path: Path = getattr(self, name)
        return path.read_bytes()


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def make_certificates(directory: Path) -> Certificates:
    """Create the CA and two leaf certificates (EC P-256, valid two days) in ``directory``."""
    key_options = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    _openssl("req", "-x509", *key_options, "-keyout", str(ca_key), "-out", str(ca),
             "-days", "2", "-subj", "/CN=max-otel test CA")  # fmt: skip
    paths = {}
    for name, names in (("server", "DNS:localhost,IP:127.0.0.1"), ("client", "DNS:client")):
        key, request, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        extensions = directory / f"{name}.ext"
        extensions.write_text(f"subjectAltName={names}\n", encoding="utf-8")
        _openssl("req", *key_options, "-keyout", str(key), "-out", str(request),
                 "-subj", f"/CN={name}")  # fmt: skip
        _openssl("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-out", str(cert), "-days", "2",
                 "-extfile", str(extensions))  # fmt: skip
        paths[name] = (cert, key)
    return Certificates(ca, *paths["server"], *paths["client"])
