"""Real docker-registry processes with the lab's certificates and htpasswd; skopeo as the peer."""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from sandbox.certs import cert_dir_for, make_ca, make_server_cert
from sandbox.registry import RegistryProcess, SandboxError, free_port, make_htpasswd, pid_alive
from sandbox.releases import FileSpec, OciLayout
from sandbox.roproxy import start_roproxy

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are needed (apt-get install docker-registry skopeo)",
)


@pytest.fixture
def pki(tmp_path: Path):
    ca = make_ca(tmp_path / "pki", "ca")
    server = make_server_cert(ca, tmp_path / "pki", "server")
    return ca, server


@pytest.fixture
def registries():
    started: list[RegistryProcess] = []
    yield started
    for reg in started:
        reg.stop()
        assert reg.pid is None or not pid_alive(reg.pid)


def _auth_file(path: Path, host: str, user: str, password: str) -> Path:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    path.chmod(0o600)
    return path


def _tiny_layout(root: Path) -> OciLayout:
    layout = OciLayout(root)
    layer = layout.add_layer("hello", [FileSpec("hello.txt", b"hello from the sandbox\n")])
    layout.tag("v1", layout.add_image([layer], labels={"test": "yes"}))
    layout.write_index()
    return layout


def _skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, check=check, timeout=60)


def test_tls_registry_with_htpasswd(tmp_path: Path, pki, registries) -> None:
    ca, server = pki
    htpasswd = make_htpasswd(tmp_path / "htpasswd", {"alice": "s3cret"})
    assert stat.S_IMODE(htpasswd.stat().st_mode) == 0o600
    reg = RegistryProcess(tmp_path / "reg", tls=(server.cert, server.key), htpasswd=htpasswd)
    registries.append(reg)
    reg.start()
    assert reg.url == f"https://127.0.0.1:{reg.port}" and reg.host == f"127.0.0.1:{reg.port}"
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    assert httpx.get(reg.url + "/v2/", verify=ctx).status_code == 401
    assert httpx.get(reg.url + "/v2/", verify=ctx, auth=("alice", "wrong")).status_code == 401
    assert httpx.get(reg.url + "/v2/", verify=ctx, auth=("bob", "s3cret")).status_code == 401
    r = httpx.get(reg.url + "/v2/", verify=ctx, auth=("alice", "s3cret"))
    assert r.status_code == 200 and r.headers["docker-distribution-api-version"] == "registry/2.0"
    # "localhost" is in the SAN too
    assert httpx.get(f"https://localhost:{reg.port}/v2/", verify=ctx).status_code == 401
    # without the CA the certificate is not trusted
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(reg.url + "/v2/")


def test_skopeo_push_and_restart_keeps_storage_and_port(tmp_path: Path, pki, registries) -> None:
    ca, server = pki
    htpasswd = make_htpasswd(tmp_path / "htpasswd", {"alice": "s3cret"})
    reg = RegistryProcess(tmp_path / "reg", tls=(server.cert, server.key), htpasswd=htpasswd)
    registries.append(reg)
    reg.start()
    layout = _tiny_layout(tmp_path / "oci")
    digest = layout.refs["v1"]["digest"]
    certs = cert_dir_for(ca.cert, tmp_path / "certs.d")
    auth = _auth_file(tmp_path / "auth.json", reg.host, "alice", "s3cret")
    _skopeo(
        "copy", "--quiet", "--dest-authfile", str(auth), "--dest-cert-dir", str(certs),
        f"oci:{layout.root}:v1", f"docker://{reg.host}/test/hello:v1",
    )  # fmt: skip
    first_pid, port = reg.pid, reg.port
    reg.stop()
    assert first_pid is not None and not pid_alive(first_pid)
    reg.start()
    assert reg.port == port and reg.pid != first_pid
    out = _skopeo(
        "inspect",
        "--raw",
        "--authfile",
        str(auth),
        "--cert-dir",
        str(certs),
        f"docker://{reg.host}/test/hello@{digest}",
    ).stdout
    assert json.loads(out)["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    # wrong password: skopeo names the failure
    bad = _auth_file(tmp_path / "bad.json", reg.host, "alice", "nope")
    res = _skopeo(
        "inspect",
        "--authfile",
        str(bad),
        "--cert-dir",
        str(certs),
        f"docker://{reg.host}/test/hello:v1",
        check=False,
    )
    assert res.returncode != 0 and "unauthorized" in res.stderr.lower()


def test_certificate_without_san_and_expired_are_refused(tmp_path: Path, pki, registries) -> None:
    ca, _ = pki
    no_san = make_server_cert(ca, tmp_path / "pki", "nosan", san=False)
    expired = make_server_cert(ca, tmp_path / "pki", "expired", expired=True)
    assert no_san.load_cert().extensions.get_extension_for_class  # a real certificate
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    for name, pair, expect in (("nosan", no_san, "mismatch"), ("expired", expired, "expired")):
        reg = RegistryProcess(tmp_path / name, tls=(pair.cert, pair.key))
        registries.append(reg)
        reg.start()
        with pytest.raises(httpx.ConnectError) as err:
            httpx.get(reg.url + "/v2/", verify=ctx)
        assert expect in str(err.value).lower()
        res = _skopeo(
            "inspect",
            "--cert-dir",
            str(cert_dir_for(ca.cert, tmp_path / "c")),
            f"docker://{reg.host}/x/y:1",
            check=False,
        )
        assert res.returncode != 0 and "x509" in res.stderr


def test_plain_http_registry_and_missing_user(tmp_path: Path, registries) -> None:
    htpasswd = make_htpasswd(tmp_path / "htpasswd", {"someone-else": "pw"})
    reg = RegistryProcess(tmp_path / "reg", htpasswd=htpasswd)
    registries.append(reg)
    reg.start()
    assert reg.url.startswith("http://")
    r = httpx.get(reg.url + "/v2/", auth=("alice", "s3cret"))
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_start_failure_reports_log_tail(tmp_path: Path, pki) -> None:
    _, server = pki
    # the key file does not match: docker-registry exits at once
    other = make_server_cert(make_ca(tmp_path / "x", "other"), tmp_path / "x", "srv")
    reg = RegistryProcess(tmp_path / "reg", tls=(server.cert, other.key), port=free_port())
    with pytest.raises(SandboxError, match=r"docker-registry on 127\.0\.0\.1:\d+ exited") as err:
        reg.start(timeout=10)
    assert "Log (" in str(err.value)
    assert not reg.running()


def test_htpasswd_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        RegistryProcess(tmp_path / "reg", htpasswd=tmp_path / "missing")


def test_read_only_proxy_reads_but_denies_push(tmp_path: Path, pki, registries) -> None:
    ca, server = pki
    htpasswd = make_htpasswd(tmp_path / "htpasswd", {"writer": "w-pass", "reader": "r-pass"})
    reg = RegistryProcess(tmp_path / "reg", tls=(server.cert, server.key), htpasswd=htpasswd)
    registries.append(reg)
    reg.start()
    certs = cert_dir_for(ca.cert, tmp_path / "certs.d")
    layout = _tiny_layout(tmp_path / "oci")
    writer = _auth_file(tmp_path / "w.json", reg.host, "writer", "w-pass")
    _skopeo(
        "copy", "--quiet", "--dest-authfile", str(writer), "--dest-cert-dir", str(certs),
        f"oci:{layout.root}:v1", f"docker://{reg.host}/ocp4/openshift4:v1",
    )  # fmt: skip
    proxy = start_roproxy(
        tmp_path / "ro", upstream=reg.url, upstream_ca=ca.cert, tls=(server.cert, server.key)
    )
    try:
        ro_host = proxy.host
        reader = _auth_file(tmp_path / "r.json", ro_host, "reader", "r-pass")
        # reads work through the proxy, with the registry checking the credentials
        out = _skopeo(
            "inspect",
            "--authfile",
            str(reader),
            "--cert-dir",
            str(certs),
            f"docker://{ro_host}/ocp4/openshift4:v1",
        )
        assert json.loads(out.stdout)["Labels"] == {"test": "yes"}
        # a push with valid credentials is denied (403), like an account without write permission
        res = _skopeo(
            "copy", "--quiet", "--dest-authfile", str(reader), "--dest-cert-dir", str(certs),
            f"oci:{layout.root}:v1", f"docker://{ro_host}/ocp4/openshift4:v2", check=False,
        )  # fmt: skip
        assert res.returncode != 0 and "denied" in res.stderr.lower(), res.stderr
        ctx = ssl.create_default_context(cafile=str(ca.cert))
        r = httpx.post(
            f"https://{ro_host}/v2/ocp4/openshift4/blobs/uploads/", verify=ctx, auth=("reader", "r-pass")
        )
        assert r.status_code == 403
        assert r.json() == {
            "errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]
        }
        # wrong password stays a 401 with the registry's challenge
        r = httpx.put(
            f"https://{ro_host}/v2/ocp4/openshift4/manifests/x",
            verify=ctx,
            auth=("reader", "bad"),
            content=b"{}",
        )
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        r = httpx.get(
            f"https://{ro_host}/v2/ocp4/openshift4/tags/list", verify=ctx, auth=("reader", "r-pass")
        )
        assert r.json()["tags"] == ["v1"]
    finally:
        proxy.stop()
    assert not pid_alive(proxy.pid)


def test_ca_and_key_files(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "lab-ca")
    assert stat.S_IMODE(os.stat(ca.key).st_mode) == 0o600
    cert = ca.load_cert()
    from cryptography import x509

    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    srv = make_server_cert(ca, tmp_path, "srv", hosts=("127.0.0.1", "localhost"))
    san = srv.load_cert().extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


# ----- distribution's token auth with the lab's token service (as quay.io / registry.redhat.io) -------------
PUBLIC = "openshift-release-dev/ocp-release"
PRIVATE = "openshift-release-dev/ocp-v4.0-art-dev"


@pytest.fixture
def token_registry(tmp_path: Path, pki, registries):
    """A docker-registry with ``auth: token`` and the lab's token service: anonymous pull of PUBLIC, 'reader' may
    pull everything, 'publisher' may push; tokens live 2 s."""
    from sandbox.tokenserver import start_token_server

    ca, server = pki
    ht = make_htpasswd(tmp_path / "htpasswd", {"reader": "r-pass", "publisher": "p-pass"})
    tokens, auth = start_token_server(
        tmp_path / "tokens",
        tls=(server.cert, server.key),
        htpasswd=ht,
        users={"reader": {"pull": ["openshift-release-dev/*"]}, "publisher": {"pull": ["*"], "push": ["*"]}},
        anonymous_pull=[PUBLIC],
        token_seconds=2,
    )
    reg = RegistryProcess(tmp_path / "reg", tls=(server.cert, server.key), token=auth)
    registries.append(reg)
    try:
        reg.start()
        yield reg, auth, ca
    finally:
        tokens.stop()
        assert not pid_alive(tokens.pid)


def test_token_auth_challenge_and_tokens_as_distribution_checks_them(token_registry) -> None:
    reg, auth, ca = token_registry
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    r = httpx.get(f"{reg.url}/v2/{PRIVATE}/tags/list", verify=ctx)
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer realm="{auth.realm}",service="{auth.service}"')
    assert f'scope="repository:{PRIVATE}:pull"' in challenge

    def token(scope: str, creds: tuple[str, str] | None = None) -> httpx.Response:
        return httpx.get(auth.realm, params={"service": auth.service, "scope": scope}, auth=creds, verify=ctx)

    # anonymous: a token, but without access to the private repository → the registry refuses it
    anon = token(f"repository:{PRIVATE}:pull").json()
    assert anon["expires_in"] == 2 and anon["token"] == anon["access_token"]
    r = httpx.get(
        f"{reg.url}/v2/{PRIVATE}/tags/list", verify=ctx, headers={"Authorization": f"Bearer {anon['token']}"}
    )
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    # anonymous pull of the public repository is granted (404: the repository is empty, but we got in)
    pub = token(f"repository:{PUBLIC}:pull").json()["token"]
    r = httpx.get(f"{reg.url}/v2/{PUBLIC}/tags/list", verify=ctx, headers={"Authorization": f"Bearer {pub}"})
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    # wrong password: the token service answers 401
    assert token(f"repository:{PRIVATE}:pull", ("reader", "wrong")).status_code == 401
    # the reader may pull but not push: push is left out of the token, the registry refuses the upload
    rd = token(f"repository:{PRIVATE}:pull,push", ("reader", "r-pass")).json()["token"]
    r = httpx.post(
        f"{reg.url}/v2/{PRIVATE}/blobs/uploads/", verify=ctx, headers={"Authorization": f"Bearer {rd}"}
    )
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    # a token past its exp + distribution's 60 s leeway, one for another service, one signed by another key
    issuer = auth.issuer_obj()
    access = [{"type": "repository", "name": PRIVATE, "actions": ["pull"]}]
    import time as _time

    expired = issuer.mint("reader", access, seconds=2, now=_time.time() - 70)
    other_aud = issuer.mint("reader", access, audience="some-other-registry")
    from sandbox.tokenserver import TokenIssuer

    forger = make_ca(reg.root / "forger", "forger")
    forged = TokenIssuer.from_files(forger.key, forger.cert, auth.issuer, auth.service).mint("reader", access)
    for bad in (expired, other_aud, forged):
        r = httpx.get(
            f"{reg.url}/v2/{PRIVATE}/tags/list", verify=ctx, headers={"Authorization": f"Bearer {bad}"}
        )
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    good = issuer.mint("reader", access, seconds=2)
    r = httpx.get(
        f"{reg.url}/v2/{PRIVATE}/tags/list", verify=ctx, headers={"Authorization": f"Bearer {good}"}
    )
    assert r.status_code == 404  # authorised; the repository is empty
    assert any("issued token to anonymous" in line for line in auth.issued())
    assert any(line.startswith("issued token to reader for ") for line in auth.issued())


def test_skopeo_pushes_and_pulls_through_token_auth(tmp_path: Path, token_registry) -> None:
    reg, auth, ca = token_registry
    certs = cert_dir_for(ca.cert, tmp_path / "certs.d")
    layout = _tiny_layout(tmp_path / "oci")
    publisher = _auth_file(tmp_path / "p.json", reg.host, "publisher", "p-pass")
    for repo in (PUBLIC, PRIVATE):
        _skopeo(
            "copy", "--quiet", "--dest-authfile", str(publisher), "--dest-cert-dir", str(certs),
            f"oci:{layout.root}:v1", f"docker://{reg.host}/{repo}:v1",
        )  # fmt: skip
    # anonymous pull of the public repository, as from quay.io
    out = _skopeo("inspect", "--no-creds", "--cert-dir", str(certs), f"docker://{reg.host}/{PUBLIC}:v1")
    assert json.loads(out.stdout)["Labels"] == {"test": "yes"}
    # the private one needs the pull secret's credentials
    res = _skopeo(
        "inspect", "--no-creds", "--cert-dir", str(certs), f"docker://{reg.host}/{PRIVATE}:v1", check=False
    )
    assert res.returncode != 0 and ("unauthorized" in res.stderr.lower() or "denied" in res.stderr.lower()), (
        res.stderr
    )
    reader = _auth_file(tmp_path / "r.json", reg.host, "reader", "r-pass")
    out = _skopeo(
        "inspect", "--authfile", str(reader), "--cert-dir", str(certs), f"docker://{reg.host}/{PRIVATE}:v1"
    )
    assert json.loads(out.stdout)["Labels"] == {"test": "yes"}
    # a pull-only login cannot push
    res = _skopeo(
        "copy", "--quiet", "--dest-authfile", str(reader), "--dest-cert-dir", str(certs),
        f"oci:{layout.root}:v1", f"docker://{reg.host}/{PRIVATE}:v2", check=False,
    )  # fmt: skip
    assert res.returncode != 0
    bad = _auth_file(tmp_path / "bad.json", reg.host, "reader", "nope")
    res = _skopeo(
        "inspect",
        "--authfile",
        str(bad),
        "--cert-dir",
        str(certs),
        f"docker://{reg.host}/{PRIVATE}:v1",
        check=False,
    )
    assert res.returncode != 0 and ("401" in res.stderr or "unauthorized" in res.stderr.lower()), res.stderr
