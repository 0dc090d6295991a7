"""The lab's registry token service: ``python -m sandbox.tokenserver --config F``.

quay.io and registry.redhat.io do not take a password on every request: they answer
``401`` with ``WWW-Authenticate: Bearer realm="…",service="…",scope="repository:<name>:pull"`` and the client
fetches a short-lived signed token from the realm (anonymously, or with the pull secret's credentials as HTTP
Basic), then sends ``Authorization: Bearer <token>``. The lab's upstream registry is a real ``docker-registry``
configured with distribution's own ``auth: token`` (realm, service, issuer, rootcertbundle); this server is the
realm. What it implements, and where the behaviour comes from:

* The token request of the Docker token authentication specification (distribution ``docs/spec/auth/token.md``):
  ``GET <realm>?service=S&scope=repository:N:pull&scope=…`` with optional Basic credentials, answered with
  ``{"token", "access_token", "expires_in", "issued_at"}``; and the OAuth2 form (``docs/spec/auth/oauth.md``:
  ``POST`` with ``grant_type=password``, ``username``, ``password``, ``service``, ``scope``).
* The JWT that distribution 2.8 verifies (``registry/auth/token/token.go``: ``ClaimSet``, ``Header``,
  ``Token.Verify``): header ``{"typ":"JWT","alg":"ES256","x5c":[<signing certificate, base64 DER>]}`` (the
  ``x5c`` chain must verify against ``rootcertbundle``: ``parseAndVerifyCertChain``), claims ``iss`` (must equal
  the registry's ``issuer``), ``aud`` (a string that must equal its ``service``), ``sub``, ``exp``/``nbf`` (the
  registry adds a leeway of 60 s to both), ``iat``, ``jti`` and ``access``: ``[{"type":"repository","name":N,
  "actions":["pull",…]}]`` (``Token.accessSet``; a request needs every action it asks for, else 401
  ``insufficient_scope``). ES256 signatures are the raw ``r||s`` pair (libtrust ``ecPublicKey.Verify``).
* Who gets what, as on quay.io: anonymous pull of public repositories (``openshift-release-dev/ocp-release`` is
  public on quay.io); other repositories (``ocp-v4.0-art-dev``) only with the pull secret's credentials. Wrong
  credentials: ``401`` from the token service (as quay.io's ``/v2/auth``). Scopes that are not granted are left
  out of ``access`` (the registry then refuses the request), as docker/distribution's reference token servers do.
* Short lifetimes: ``token_seconds`` (default 60, the minimum the specification recommends), so a long mirror run
  has to fetch new tokens as it goes.

Config (JSON): ``listen_host``, ``port`` (0 = any), ``port_file``, ``log_file``, ``tls`` {cert, key}, ``issuer``,
``service``, ``signing_key``, ``signing_cert`` (PEM; the certificate is also the registry's rootcertbundle),
``htpasswd`` (bcrypt), ``token_seconds``, ``anonymous_pull`` (repository patterns, fnmatch), ``users``
(``{user: {"pull": [patterns], "push": [patterns]}}``). Each token issued is logged (who, what, never the token).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sandbox.httpd import LabHTTPServer, serve

REALM_PATH = "/v2/auth"
"""Where quay.io's token service lives (``https://quay.io/v2/auth``)."""
DEFAULT_TOKEN_SECONDS = 60
REGISTRY_LEEWAY = 60
"""distribution 2.8 ``token.Leeway``: a token is accepted up to 60 s after its ``exp``."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Policy:
    """Who may do what on which repository."""

    anonymous_pull: list[str] = field(default_factory=list)
    users: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def granted(self, user: str, repository: str, wanted: list[str]) -> list[str]:
        rights: dict[str, list[str]] = self.users.get(user, {}) if user else {}
        out = []
        for action in wanted:
            patterns = list(rights.get(action, []))
            if action == "pull":
                patterns += self.anonymous_pull
            if any(fnmatch.fnmatchcase(repository, p) for p in patterns):
                out.append(action)
        return out


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:name:pull,push`` → (type, name, actions); the name may not be empty (token.md "Scope")."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    if "(" in kind:  # resource class, e.g. repository(plugin):name:pull
        kind = kind.split("(", 1)[0]
    return kind, name, [a for a in actions.split(",") if a]


class TokenIssuer:
    """Mints the JWTs distribution's token access controller accepts."""

    def __init__(
        self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, issuer: str, service: str
    ) -> None:
        self.key = key
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.issuer = issuer
        self.service = service

    @classmethod
    def from_files(
        cls, key_file: str | Path, cert_file: str | Path, issuer: str, service: str
    ) -> TokenIssuer:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the token signing key must be an EC P-256 key")
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        return cls(key, cert, issuer, service)

    def mint(
        self,
        subject: str,
        access: list[dict[str, Any]],
        *,
        seconds: int = DEFAULT_TOKEN_SECONDS,
        now: float | None = None,
        audience: str | None = None,
    ) -> str:
        t = int(now if now is not None else time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service if audience is None else audience,
            "exp": t + seconds,
            "nbf": t - 1,
            "iat": t,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class TokenServer(LabHTTPServer):
    issuer_: TokenIssuer
    policy: Policy
    users: dict[str, bytes]
    token_seconds: int
    issued: int = 0
    _count_lock = threading.Lock()


def read_htpasswd(path: str | Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for line in Path(path).read_text().splitlines():
        if ":" in line:
            user, hashed = line.split(":", 1)
            out[user] = hashed.strip().encode()
    return out


class TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        self.server.log(f"{self.address_string()} {format % args}")

    def _json(self, code: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return ("", "")
        return user, password

    def _check(self, creds: tuple[str, str] | None) -> str | None:
        """The authenticated user name, "" for anonymous, None for wrong credentials."""
        if creds is None:
            return ""
        user, password = creds
        hashed = self.server.users.get(user)
        if not user or hashed is None or not bcrypt.checkpw(password.encode(), hashed):
            return None
        return user

    def _issue(self, user: str | None, service: str, scopes: list[str], *, oauth: bool) -> None:
        if user is None:
            # quay.io's /v2/auth: 401 for a wrong robot password
            self._json(
                401,
                {"details": "Invalid username or password"},
                {"WWW-Authenticate": 'Basic realm="token service"'},
            )
            self.server.log("refused: wrong credentials")
            return
        if service and service != self.server.issuer_.service:
            self._json(400, {"details": f"unknown service {service!r}"})
            return
        access: list[dict[str, Any]] = []
        for scope in scopes:
            for one in scope.split(" "):
                parsed = parse_scope(one)
                if parsed is None or parsed[0] != "repository":
                    continue
                _, name, wanted = parsed
                granted = self.server.policy.granted(user, name, wanted)
                if granted:
                    access.append({"type": "repository", "name": name, "actions": granted})
        seconds = self.server.token_seconds
        token = self.server.issuer_.mint(user or "", access, seconds=seconds)
        with self.server._count_lock:
            self.server.issued += 1
        who = user or "anonymous"
        shown = " ".join(f"{a['name']}:{','.join(a['actions'])}" for a in access) or "(no repository access)"
        self.server.log(f"issued token to {who} for {shown}, {seconds} s")
        issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc: dict[str, Any] = {"access_token": token, "expires_in": seconds, "issued_at": issued_at}
        if not oauth:
            doc["token"] = token
        self._json(200, doc, {"Cache-Control": "no-store"})

    def do_GET(self) -> None:
        u = urlsplit(self.path)
        if u.path != REALM_PATH:
            self._json(404, {"details": "not found"})
            return
        q = parse_qs(u.query)
        self._issue(self._check(self._basic()), q.get("service", [""])[0], q.get("scope", []), oauth=False)

    def do_POST(self) -> None:
        u = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        if u.path != REALM_PATH:
            self._json(404, {"details": "not found"})
            return
        form = parse_qs(body)
        grant = form.get("grant_type", [""])[0]
        if grant != "password":
            # we hand out no refresh tokens (docs/spec/auth/oauth.md: "unsupported_grant_type")
            self._json(400, {"error": "unsupported_grant_type"})
            return
        creds = (form.get("username", [""])[0], form.get("password", [""])[0])
        self._issue(self._check(creds), form.get("service", [""])[0], form.get("scope", []), oauth=True)


def make_server(cfg: dict[str, Any]) -> TokenServer:
    server: TokenServer = TokenServer.from_config(cfg, TokenHandler)
    server.issuer_ = TokenIssuer.from_files(
        cfg["signing_key"], cfg["signing_cert"], cfg["issuer"], cfg["service"]
    )
    server.policy = Policy(list(cfg.get("anonymous_pull", [])), dict(cfg.get("users", {})))
    server.users = read_htpasswd(cfg["htpasswd"]) if cfg.get("htpasswd") else {}
    server.token_seconds = int(cfg.get("token_seconds", DEFAULT_TOKEN_SECONDS))
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox.tokenserver")
    p.add_argument("--config", required=True)
    args = p.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text())
    return serve(make_server(cfg), cfg)


if __name__ == "__main__":
    sys.exit(main())


# ----- starting one (lab, tests, benchmarks) ------------------------------------------------------------------
@dataclass(frozen=True)
class TokenAuth:
    """What a registry's ``auth: token`` section needs, and the running service behind ``realm``."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: str
    signing_key: str = ""
    log_file: str = ""

    def issuer_obj(self) -> TokenIssuer:
        return TokenIssuer.from_files(self.signing_key, self.rootcertbundle, self.issuer, self.service)

    def issued(self) -> list[str]:
        """The "issued token to …" lines of the service's log (what was granted, to whom)."""
        try:
            lines = Path(self.log_file).read_text().splitlines()
        except OSError:
            return []
        return [line.split(" ", 1)[1] for line in lines if " issued token to " in line]


def start_token_server(
    directory: str | Path,
    *,
    tls: tuple[str | Path, str | Path],
    htpasswd: str | Path | None,
    users: dict[str, dict[str, list[str]]],
    anonymous_pull: list[str],
    service: str = "quay-sandbox",
    issuer: str = "quay-sandbox-token-issuer",
    token_seconds: int = DEFAULT_TOKEN_SECONDS,
    timeout: float = 15.0,
) -> tuple[Any, TokenAuth]:
    """Make a signing key and certificate in ``directory``, start the service; (ServerProcess, TokenAuth)."""
    from sandbox.certs import make_ca
    from sandbox.httpd import start_server

    d = Path(directory).absolute()
    d.mkdir(parents=True, exist_ok=True)
    signer = make_ca(d, "token-signer", common_name="ocp-airgap sandbox registry token signer")
    cfg = {
        "listen_host": "127.0.0.1",
        "port": 0,
        "port_file": str(d / "port"),
        "log_file": str(d / "tokenserver.log"),
        "tls": {"cert": str(Path(tls[0]).absolute()), "key": str(Path(tls[1]).absolute())},
        "issuer": issuer,
        "service": service,
        "signing_key": str(signer.key),
        "signing_cert": str(signer.cert),
        "htpasswd": str(Path(htpasswd).absolute()) if htpasswd else "",
        "token_seconds": token_seconds,
        "anonymous_pull": anonymous_pull,
        "users": users,
    }
    proc = start_server(
        "registry token service",
        "sandbox.tokenserver",
        cfg,
        d / "config.json",
        timeout=timeout,
        probe_path=REALM_PATH,
    )
    auth = TokenAuth(
        realm=f"https://127.0.0.1:{proc.port}{REALM_PATH}",
        service=service,
        issuer=issuer,
        rootcertbundle=str(signer.cert),
        signing_key=str(signer.key),
        log_file=str(cfg["log_file"]),
    )
    return proc, auth
