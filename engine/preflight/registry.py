"""Checks of the mirror registry: reachable, TLS chain and subjectAltName, expiry, credentials, push right;
and the size of the release to mirror."""

from __future__ import annotations

import re
import socket
import ssl
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

from cryptography import x509

from engine.context import Context
from engine.errors import (
    CredentialsError,
    InputError,
    RegistryAuthError,
    RegistryError,
    TLSError,
)
from engine.preflight.base import EXPIRY_WARNING, FAIL, PASS, WARN, _Run


def _split_host(registry: str) -> tuple[str, int]:
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        return host, int(rest.lstrip(":") or 443)
    host, _, port = registry.partition(":")
    return host, int(port or 443)


PROBE_TIMEOUT = 5.0
"""Seconds to open a TCP connection and finish a TLS handshake with a registry before calling it unreachable."""


def _peer_certificate(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> x509.Certificate:
    raw = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    raw.check_hostname = False
    raw.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        raw.wrap_socket(sock, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise TLSError(f"{host}:{port} presented no certificate", fix="Configure TLS on the registry.")
    return x509.load_der_x509_certificate(der)


def unreachable_message(registry: str, exc: BaseException) -> str:
    return f"cannot open a TLS connection to {registry} ({exc})"


def unreachable_fix(registry: str, what: str = "mirror registry") -> str:
    return f"Check that the {what} runs and that {registry} is reachable from this host."


def probe_registry(registry: str, *, what: str = "mirror registry", timeout: float = PROBE_TIMEOUT) -> None:
    """Fail fast when ``registry`` does not answer TLS (one connection, a few seconds at most): the same probe as
    preflight's "mirror reachable" check, with its message. Raises :class:`RegistryError`."""
    host, port = _split_host(registry)
    try:
        _peer_certificate(host, port, timeout)
    except (OSError, ssl.SSLError, TLSError) as exc:
        raise RegistryError(
            f"the {what} is not reachable: {unreachable_message(registry, exc)}",
            fix=unreachable_fix(registry, what) + " Then run the same command again.",
            title="Registry unreachable",
        ) from None


def _san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return names


def _name_matches(host: str, names: list[str]) -> bool:
    host = host.lower()
    for name in names:
        name = name.lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _mirror_auth(run: _Run) -> Any:
    from engine.authfile import AuthFile

    plan = run.ctx.plan
    auth = AuthFile.discover(plan.resolve_path(plan.auth_file))
    if auth.lookup(plan.mirror.registry, plan.mirror.repository) is not None:
        return auth, f"the auth file {auth.path}"
    if plan.mirror.username:
        from engine.credentials import mirror_password

        password = mirror_password(run.ctx, run.options.ask_password)
        return auth.with_login(
            plan.mirror.registry, plan.mirror.username, password, "the plan"
        ), "the keyring"
    return auth, ""


def _check_mirror(run: _Run) -> None:
    ctx = run.ctx
    plan = ctx.plan
    registry = plan.mirror.registry
    names = [
        "mirror reachable",
        "mirror TLS trust",
        "mirror certificate SAN",
        "mirror certificate expiry",
        "mirror credentials",
        "mirror push right",
    ]
    if not registry:
        for name in names:
            run.check(
                name,
                WARN,
                "not checked: mirror.registry is not set in the plan",
                fix="Set mirror.registry (host:port) in the plan.",
                why="mirror",
            )
        return
    if plan.mirroring.mode == "to-media":
        for name in names:
            run.check(
                name,
                WARN,
                "not checked: with mode to-media this host writes to the media, not to the mirror registry",
                fix="Run preflight on the disconnected side for the registry checks.",
                why="mirror",
            )
        return
    host, port = _split_host(registry)
    ctx.emit.command(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n", f"https://{registry}/v2/"])
    try:
        cert = _peer_certificate(host, port)
    except (OSError, ssl.SSLError, TLSError) as exc:
        run.check(
            "mirror reachable",
            FAIL,
            unreachable_message(registry, exc),
            fix=unreachable_fix(registry),
            why="mirror",
        )
        for name in names[1:]:
            run.check(name, WARN, f"not checked: {registry} is not reachable", why="mirror")
        return
    run.check("mirror reachable", PASS, f"{registry} answers TLS", why="mirror")

    # chain trust (hostname checked separately, below)
    from engine.oci.registry import build_ssl_context, translate_tls_error

    ca_file = plan.resolve_path(plan.mirror.ca_file)
    trusted = False
    try:
        verify = build_ssl_context(registry, ca_file)
        verify.check_hostname = False
        with (
            socket.create_connection((host, port), timeout=10) as sock,
            verify.wrap_socket(sock, server_hostname=host),
        ):
            trusted = True
    except ssl.SSLError as exc:
        err = translate_tls_error(registry, exc, "mirror.ca_file")
        run.check(
            "mirror TLS trust",
            FAIL,
            err.message if err else f"TLS verification of {registry} failed ({exc})",
            fix=(err.fix if err else "Set mirror.ca_file in the plan to the CA that signed it.")
            + " To trust it on this host and the cluster: ocp-airgap credentials trust-ca --plan P",
            why="tls",
        )
    except InputError as exc:
        run.check("mirror TLS trust", FAIL, exc.message, fix=exc.fix, why="tls")
    if trusted:
        source = f"mirror.ca_file {ca_file}" if ca_file else "the system trust"
        run.check(
            "mirror TLS trust", PASS, f"certificate chain of {registry} verified with {source}", why="tls"
        )

    san = _san_names(cert)
    if not san:
        run.check(
            "mirror certificate SAN",
            FAIL,
            f"the certificate of {registry} has no subjectAltName (only CN {cert.subject.rfc4514_string()})",
            fix=f"Reissue it with a subjectAltName for {host} "
            f"(openssl: -addext 'subjectAltName={'IP' if re.match(r'^[0-9.]+$', host) else 'DNS'}:{host}').",
            why="san",
        )
    elif not _name_matches(host, san):
        run.check(
            "mirror certificate SAN",
            FAIL,
            f"the certificate of {registry} is for {', '.join(san)}, not {host}",
            fix=f"Reach the registry by one of those names, or reissue the certificate with {host}.",
            why="san",
        )
    else:
        run.check("mirror certificate SAN", PASS, f"subjectAltName includes {host}", why="san")

    left = cert.not_valid_after_utc - run.options.now
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    if left <= timedelta(0):
        run.check(
            "mirror certificate expiry",
            FAIL,
            f"the certificate of {registry} expired on {until}",
            fix="Renew the registry certificate now.",
            why="expiry",
        )
    elif left < EXPIRY_WARNING:
        run.check(
            "mirror certificate expiry",
            WARN,
            f"the certificate of {registry} expires on {until} (in {left.days} days)",
            fix="Renew the registry certificate before it expires.",
            why="expiry",
        )
    else:
        run.check("mirror certificate expiry", PASS, f"valid until {until} ({left.days} days)", why="expiry")

    if not trusted:
        for name in names[4:]:
            run.check(
                name, WARN, f"not checked: the TLS certificate of {registry} is not trusted", why="mirror"
            )
        return
    _check_mirror_login(run)


def _check_mirror_login(run: _Run) -> None:
    from engine.oci.registry import RegistryClient

    plan = run.ctx.plan
    registry = plan.mirror.registry
    repository = plan.mirror.repository
    try:
        auth, source = _mirror_auth(run)
    except (CredentialsError, InputError) as exc:
        run.check("mirror credentials", WARN, f"not checked: {exc.message}", fix=exc.fix, why="credentials")
        run.check("mirror push right", WARN, "not checked: no mirror credentials", why="push")
        return
    if not source:
        run.check(
            "mirror credentials",
            FAIL,
            f"no login for {registry}: neither the auth file nor the plan has one",
            fix="Add it: ocp-airgap credentials merge --plan P",
            why="credentials",
        )
        run.check("mirror push right", WARN, "not checked: no mirror credentials", why="push")
        return
    client = RegistryClient(registry, auth=auth, ca_file=plan.resolve_path(plan.mirror.ca_file))
    with client:
        creds = client.credentials(repository)
        who = creds.username if creds else "?"
        try:
            client.ping()
        except RegistryAuthError as exc:
            run.check("mirror credentials", FAIL, exc.message, fix=exc.fix, why="credentials")
            run.check("mirror push right", WARN, "not checked: the login was rejected", why="push")
            return
        run.check(
            "mirror credentials", PASS, f"{registry} accepts user {who} (from {source})", why="credentials"
        )
        run.ctx.emit.command(
            ["skopeo", "login", "--authfile", plan.resolve_path(plan.auth_file) or "<auth file>", registry],
            note="the same login by hand",
        )
        resp = client.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            repository=repository,
            push=True,
            headers={"Content-Length": "0"},
            content=b"",
        )
        if resp.status_code == 202:
            location = resp.headers.get("Location", "")
            if location:
                client.request(
                    "DELETE", urljoin(client.base + "/", location), repository=repository, push=True
                )
            run.check(
                "mirror push right",
                PASS,
                f"user {who} may push to {registry}/{repository} (an upload was started and cancelled)",
                why="push",
            )
        elif resp.status_code in (401, 403):
            run.check(
                "mirror push right",
                FAIL,
                f"user {who} may not push to {registry}/{repository} (the registry answered {resp.status_code})",
                fix=f"Use an account with write access to {registry}/{repository} (mirror.username), or ask the "
                "registry administrator to grant it.",
                why="push",
            )
        else:
            run.check(
                "mirror push right",
                FAIL,
                f"starting an upload to {registry}/{repository} got {resp.status_code}",
                fix="See the registry's logs.",
                why="push",
            )


def release_size(ctx: Context, pullspec: str) -> tuple[int, int]:
    """(bytes, images) of a release: every distinct blob of the release image and its components.

    Reads the release's image-references, then every component's manifest (in parallel); nothing is
    downloaded but manifests."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.authfile import AuthFile
    from engine.mirror import component_source
    from engine.oci.registry import Reference, RegistryClient
    from engine.release import read_release_info

    plan = ctx.plan
    info = read_release_info(ctx, pullspec)
    refs = [Reference.parse(info.pullspec or pullspec)] + [component_source(plan, c) for c in info.components]
    auth = AuthFile.discover(plan.resolve_path(plan.auth_file))
    ca_file = plan.resolve_path(plan.endpoints.source_ca_file)
    clients: dict[str, RegistryClient] = {}
    for ref in refs:
        if ref.registry not in clients:
            clients[ref.registry] = RegistryClient(
                ref.registry, auth=auth, ca_file=ca_file, ca_setting="endpoints.source_ca_file"
            )

    def blobs(ref: Reference) -> dict[str, int]:
        client = clients[ref.registry]
        manifest = client.get_manifest(ref.repository, ref.ref)
        out = {d.digest: d.size for d in manifest.blobs()}
        for child in manifest.children():
            out.update({d.digest: d.size for d in client.get_manifest(ref.repository, child.digest).blobs()})
        return out

    sizes: dict[str, int] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(8, plan.mirroring.concurrency))) as pool:
            for found in pool.map(blobs, refs):
                ctx.check_cancel()
                sizes.update(found)
    finally:
        for client in clients.values():
            client.close()
    return sum(sizes.values()), len(refs)
