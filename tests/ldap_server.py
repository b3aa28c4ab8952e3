"""A real OpenLDAP server for the LDAP tests: Debian's ``slapd`` on 127.0.0.1, on a free port
chosen at run time, with its configuration, database and TLS certificate in a temporary folder.

The directory (dc=school,dc=test) holds ou=people with S0001, S0004, S0005 and T1001 (people
of tests/base.py) and X9999 (nobody in Xinlian), each with the password ``ldap-<uid>``, and a
service account cn=reader for search-then-bind. Anonymous clients may bind but not search.

The certificate is self-signed for 127.0.0.1 and localhost (``ca_file`` trusts it), so StartTLS
and ldaps:// are tested for real. ``stop()`` ends the server and removes the folder."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SUFFIX = "dc=school,dc=test"
PEOPLE = f"ou=people,{SUFFIX}"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-secret"
UIDS = ("S0001", "S0004", "S0005", "T1001", "X9999")


def password_of(uid: str) -> str:
    return f"ldap-{uid}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: school\no: Test School\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: reader\nuserPassword: {READER_PASSWORD}\n",
    ]
    for uid in UIDS:
        entries.append(f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
                       f"cn: Person {uid}\nsn: {uid}\nuserPassword: {password_of(uid)}\n")
    return "\n".join(entries)


class Slapd:
    """One slapd process; ``url`` (ldap://) and ``ldaps_url`` are set once it is started."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="xinlian-slapd-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.ldaps_port = 0
        self.ca_file = ""

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def _write_config(self) -> Path:
        cert, key = _certificate(self.folder)
        self.ca_file = str(cert)
        db = self.folder / "db"
        db.mkdir(exist_ok=True)
        conf = self.folder / "slapd.conf"
        conf.write_text(f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {self.folder}/slapd.pid
argsfile {self.folder}/slapd.args
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 10485760
suffix "{SUFFIX}"
directory {db}
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by users read
  by anonymous auth
""")
        return conf

    def start(self) -> Slapd:
        conf = self._write_config()
        ldif = self.folder / "people.ldif"
        ldif.write_text(_ldif())
        subprocess.run([str(SLAPADD), "-q", "-f", str(conf), "-l", str(ldif)], check=True,
                       capture_output=True, timeout=30)
        for _attempt in range(5):  # a port picked free may be taken before slapd binds it
            self.port, self.ldaps_port = free_port(), free_port()
            # -d 0: stay in the foreground (a child of this test run), print nothing.
            self.process = subprocess.Popen(
                [str(SLAPD), "-f", str(conf), "-h", f"{self.url}/ {self.ldaps_url}/", "-d", "0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_until_listening():
                return self
            self._end_process()
        raise RuntimeError("slapd did not start")

    def _wait_until_listening(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def _end_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def stop(self) -> None:
        self._end_process()
        shutil.rmtree(self.folder, ignore_errors=True)


class SilentServer:
    """A TCP listener on a free port that accepts connections and never answers: the directory
    that hangs (a timeout), as opposed to one that is down (connection refused)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.sock.close()
