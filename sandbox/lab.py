"""Bring the whole lab up in a folder, and down again: ``up(D)``, ``down(D)``, ``status(D)``.

``up`` starts, all on loopback and in the background (each in its own session, so the lab outlives the command
that started it):

* the **upstream registry** (plays quay.io): docker-registry with TLS from its own CA and distribution's bearer
  token auth, with the lab's **token service** as its realm (:mod:`sandbox.tokenserver`: anonymous pull of the
  release repository, the pull secret's login for the component repository, short-lived tokens), holding the
  synthetic releases in ``openshift-release-dev/ocp-release`` and their components in
  ``openshift-release-dev/ocp-v4.0-art-dev``, pushed with skopeo;
* the **mirror registry**: docker-registry with TLS from another CA and htpasswd (a read-write user and a
  read-only user), empty, plus a **read-only endpoint** in front of it where every write gets 403;
* the **web server** with the release **signature store** and the **update graph**;
* the **simulated OpenShift API** with its Cluster Version Operator (``python -m sandbox.apiserver``).

and writes into D everything a user or a test needs (``sandbox.json``, ``kubeconfig``, ``plan.yaml``,
``auth.json``, ``pull-secret.json``, password files, CA files). ``down`` stops every process it started, by PID
(SIGTERM, wait, SIGKILL), and is safe to run twice.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from engine.fsutil import atomic_write_text
from engine.plan import Plan
from engine.redact import register_secret
from sandbox.certs import make_ca, make_server_cert
from sandbox.cosign import add_signature_image, generate_cosign_key
from sandbox.graph import graph_document, placeholder_payload
from sandbox.httpd import GRAPH_PATH, SIGSTORE_PREFIX, ServerProcess, start_server
from sandbox.profiles import FEATURES, Profile, UnknownProfile
from sandbox.profiles import get as get_profile
from sandbox.registry import RegistryProcess, SandboxError, free_port, make_htpasswd, pid_alive, stop_pid
from sandbox.releases import COMPONENT_REPO, RELEASE_REPO, build_releases, push_layout
from sandbox.roproxy import start_roproxy
from sandbox.sigstore import (
    generate_key,
    generate_legacy_key,
    sign_release,
    signature_payload,
    write_signature,
)
from sandbox.tokenserver import start_token_server

SANDBOX_JSON = "sandbox.json"
PROCESSES_JSON = "processes.json"
DEFAULT_VERSIONS = ("4.16.18", "4.16.20", "4.17.3")
MIRROR_REPOSITORY = "ocp4/openshift4"
UPSTREAM_USER = "openshift-release-dev+ocm_access_sandbox"
UPSTREAM_PUBLISHER = "openshift-release-dev+release_publisher"
"""The lab's own account that pushes the releases upstream (the pull secret's account may only pull)."""
MIRROR_USER = "mirror-admin"
MIRROR_READONLY_USER = "mirror-reader"
SANDBOX_EMAIL = "admin@sandbox.ocp-airgap.invalid"
# stop order: the API (and its CVO, which may be talking to the mirror) first, the registries last
STOP_ORDER = (
    "apiserver",
    "httpd",
    "mirror-readonly-proxy",
    "mirror-registry",
    "upstream-registry",
    "upstream-token-service",
)


# ----- the description of a running lab --------------------------------------------------------------------
def _from_dict(cls: Any, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class UpstreamInfo:
    registry: str
    """host:port of the registry playing quay.io"""
    ca_file: str
    cert_dir: str = ""
    """A folder with the CA as ca.crt, for ``skopeo --cert-dir``."""
    username: str = ""
    release_repository: str = ""
    """``<registry>/openshift-release-dev/ocp-release``"""
    component_repository: str = ""
    token_realm: str = ""
    """The realm of the registry's bearer-token challenge (the lab's token service)."""
    token_seconds: int = 0
    token_log: str = ""


@dataclass
class MirrorInfo:
    registry: str
    repository: str
    ca_file: str
    username: str
    password_file: str
    cert_dir: str = ""
    readonly_registry: str = ""
    """host:port of the read-only endpoint in front of the mirror (every write gets 403)."""
    readonly_username: str = ""
    readonly_password_file: str = ""


@dataclass
class ReleaseInfo:
    version: str
    architecture: str
    digest: str
    pullspec: str
    """By digest in the upstream registry."""
    tag_pullspec: str = ""
    channels: list[str] = field(default_factory=list)
    signature_url: str = ""
    components: int = 0


@dataclass
class ApiInfo:
    server: str
    ca_file: str


@dataclass
class SigningKeyInfo:
    public_key: str
    secret_key: str = ""
    fingerprint: str = ""
    sigstore_public_key: str = ""
    """PEM public key of the lab's cosign (Sigstore) release key."""
    sigstore_private_key: str = ""


@dataclass
class SandboxInfo:
    """What ``sandbox.json`` says about a lab; ``SandboxInfo.load(D)``."""

    directory: str
    kubeconfig: str
    plan: str
    auth_file: str
    pull_secret: str
    pids: dict[str, int]
    upstream: UpstreamInfo
    mirror: MirrorInfo
    releases: list[ReleaseInfo]
    signature_store: str
    graph_url: str
    current_version: str
    target_version: str
    api: ApiInfo
    signing_key: SigningKeyInfo
    speed: float = 60.0
    timings: dict[str, float] = field(default_factory=dict)
    profile: str = "default"
    operator_index: str = ""
    """The lab's FBC index image (by tag) in the upstream registry."""
    operator_index_variants: dict[str, str] = field(default_factory=dict)
    """Broken variants of the index: ``heads`` (two channel heads), ``deps`` (a missing dependency)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxInfo:
        d = dict(data)
        d["upstream"] = _from_dict(UpstreamInfo, d["upstream"])
        d["mirror"] = _from_dict(MirrorInfo, d["mirror"])
        d["releases"] = [_from_dict(ReleaseInfo, r) for r in d["releases"]]
        d["api"] = _from_dict(ApiInfo, d["api"])
        d["signing_key"] = _from_dict(SigningKeyInfo, d["signing_key"])
        info: SandboxInfo = _from_dict(cls, d)
        return info

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SandboxInfo:
        p = Path(directory) / SANDBOX_JSON
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except FileNotFoundError:
            raise SandboxError(
                f"{p} does not exist: no lab was brought up in {directory}",
                fix=f"Start one with 'ocp-airgap sandbox up --dir {directory}'.",
            ) from None

    def release(self, version: str) -> ReleaseInfo:
        for r in self.releases:
            if r.version == version:
                return r
        raise KeyError(
            f"no release {version} in the lab (have {', '.join(r.version for r in self.releases)})"
        )

    def mirror_password(self) -> str:
        return Path(self.mirror.password_file).read_text().strip()


# ----- helpers ---------------------------------------------------------------------------------------------
def _auth_entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode(), "email": SANDBOX_EMAIL}


def _write_json_secret(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n", mode=0o600)


def _cert_dir(base: Path, host: str, ca_file: Path) -> Path:
    """``<base>/<host:port>/ca.crt`` — the containers ``certs.d`` layout; the host folder is a ``--cert-dir``."""
    d = base / host
    d.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_file, d / "ca.crt")
    return d


class _Processes:
    """Processes started by ``up``, recorded in D/processes.json as they start (so a failed ``up`` can be undone)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / PROCESSES_JSON
        self.entries: dict[str, dict[str, Any]] = {}

    def add(self, name: str, pid: int, port: int, log: Path | str) -> None:
        self.entries[name] = {"pid": pid, "port": port, "log": str(log), "marker": str(self.directory)}
        atomic_write_text(self.path, json.dumps(self.entries, indent=2) + "\n", mode=0o644)

    @property
    def pids(self) -> dict[str, int]:
        return {name: int(e["pid"]) for name, e in self.entries.items()}


def _owned(pid: int, marker: str) -> bool:
    """True if ``pid`` still is the process we started (its command line names a file inside the lab folder)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return pid_alive(pid)
    return marker in cmdline


def _read_processes(directory: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    sj = directory / SANDBOX_JSON
    if sj.exists():
        with contextlib.suppress(ValueError, OSError):
            for name, pid in json.loads(sj.read_text()).get("pids", {}).items():
                entries[name] = {"pid": int(pid), "marker": str(directory)}
    pj = directory / PROCESSES_JSON
    if pj.exists():
        with contextlib.suppress(ValueError, OSError):
            entries.update(json.loads(pj.read_text()))
    return entries


# ----- public API ------------------------------------------------------------------------------------------
def status(directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"pid": int, "alive": bool, "port": int | None}}`` for every process the lab started."""
    d = Path(directory).resolve()
    out: dict[str, dict[str, Any]] = {}
    for name, e in _read_processes(d).items():
        pid = int(e["pid"])
        alive = pid_alive(pid) and _owned(pid, str(e.get("marker", d)))
        out[name] = {"pid": pid, "alive": alive, "port": e.get("port")}
    return out


def down(directory: str | os.PathLike[str], *, timeout: float = 5.0) -> dict[str, bool]:
    """Stop every process ``up`` started in ``directory`` (SIGTERM, wait, SIGKILL), by PID. Idempotent.

    Returns ``{name: stopped}``; a PID that now belongs to another program is left alone (and reported stopped)."""
    d = Path(directory).resolve()
    entries = _read_processes(d)
    order = [n for n in STOP_ORDER if n in entries] + [n for n in entries if n not in STOP_ORDER]
    result: dict[str, bool] = {}
    for name in order:
        e = entries[name]
        pid = int(e["pid"])
        if not pid_alive(pid) or not _owned(pid, str(e.get("marker", d))):
            result[name] = True
            continue
        result[name] = stop_pid(pid, timeout)
    _forget_children(entries)
    return result


_children: dict[int, Any] = {}
"""Popen objects of processes this Python process started, so their exit status is collected (no zombies)."""


def _remember(proc: Any) -> None:
    _children[proc.pid] = proc


def _forget_children(entries: dict[str, dict[str, Any]]) -> None:
    for e in entries.values():
        proc = _children.pop(int(e["pid"]), None)
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(1)


def up(
    directory: str | os.PathLike[str],
    *,
    components: int = 24,
    size_mb: float = 20.0,
    speed: float = 60.0,
    versions: Sequence[str] = DEFAULT_VERSIONS,
    target_version: str | None = None,
    timeout: float = 60.0,
    api: bool = True,
    jobs: int = 4,
    keep_layout: bool = False,
    progress: Callable[[str], None] | None = None,
    profile: str = "default",
    token_seconds: int = 60,
    features: dict[str, Any] | None = None,
    plan_state_dir: str = "",
) -> SandboxInfo:
    """Start the whole lab in ``directory`` and return once every part answers.

    ``features``: switches laid over the profile's (sandbox.profiles.FEATURES), e.g. to withhold a signature.
    ``plan_state_dir``: the ``state_dir`` written into the lab's plan (relative to the plan: the journals then
    live in the lab's folder and reopening the plan finds them); empty leaves the user's state folder.
    ``profile``: the shape of cluster to play (:mod:`sandbox.profiles`); its versions replace ``versions``
    when it names any, and its features reach every part of the lab.

    ``versions``: releases to build, oldest first; the first is the cluster's current version, the last (or
    ``target_version``) the plan's target. ``speed``: simulated seconds per real second for the CVO.
    ``api=False`` leaves out the simulated OpenShift API (registry-only tests). ``token_seconds``: lifetime of
    the upstream registry's bearer tokens. On any failure everything
    already started is stopped again and SandboxError says what failed."""
    started = time.monotonic()
    d = Path(directory).resolve()
    d.mkdir(parents=True, exist_ok=True)
    running = [n for n, s in status(d).items() if s["alive"]]
    if running:
        raise SandboxError(
            f"a lab is already running in {d} ({', '.join(running)})",
            fix=f"Stop it first with 'ocp-airgap sandbox down --dir {d}', or choose another folder.",
        )
    for stale in (SANDBOX_JSON, PROCESSES_JSON):
        with contextlib.suppress(FileNotFoundError):
            (d / stale).unlink()
    say = progress or (lambda _msg: None)
    try:
        chosen = get_profile(profile)
    except UnknownProfile as exc:
        raise SandboxError(
            str(exc), fix="Choose one of the profiles listed by 'ocp-airgap sandbox profiles'."
        ) from None
    if features:
        unknown = sorted(set(features) - set(FEATURES))
        if unknown:
            raise SandboxError(
                f"unknown lab features: {', '.join(unknown)}", fix="See sandbox/profiles.py FEATURES."
            )
        chosen = dataclasses.replace(chosen, features={**chosen.features, **features})
    if chosen.versions and list(versions) == list(DEFAULT_VERSIONS):
        versions = chosen.versions
    procs = _Processes(d)
    try:
        info = _up(
            d,
            procs,
            components,
            size_mb,
            speed,
            list(versions),
            target_version,
            timeout,
            api,
            jobs,
            say,
            chosen,
            token_seconds,
        )
        if plan_state_dir:
            plan = Plan.load(info.plan)
            plan.state_dir = plan_state_dir
            plan.save(info.plan)
    except BaseException:
        down(d)
        raise
    if not keep_layout:
        shutil.rmtree(d / "oci", ignore_errors=True)
    info.timings["total"] = round(time.monotonic() - started, 3)
    _write_json(d / SANDBOX_JSON, _info_to_dict(info))
    say(f"lab ready in {info.timings['total']:.1f} s")
    return info


def _write_json(path: Path, obj: Any, mode: int = 0o644) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n", mode=mode)


def _info_to_dict(info: SandboxInfo) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(info)


def _up(
    d: Path,
    procs: _Processes,
    components: int,
    size_mb: float,
    speed: float,
    versions: list[str],
    target_version: str | None,
    timeout: float,
    api: bool,
    jobs: int,
    say: Callable[[str], None],
    profile: Profile,
    token_seconds: int = 60,
) -> SandboxInfo:
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        timings[name] = round(now - since, 3)
        return now

    if not versions:
        raise SandboxError("no release versions given")
    versions = sorted(dict.fromkeys(versions), key=lambda v: tuple(int(x) for x in v.split(".")[:3]))
    current, target = versions[0], target_version or versions[-1]
    if target not in versions:
        raise SandboxError(f"target version {target} is not one of the built versions {versions}")

    # --- secrets and certificates -------------------------------------------------------------------
    pki = d / "pki"
    upstream_ca = make_ca(pki, "upstream-ca", common_name="ocp-airgap sandbox upstream registry CA")
    upstream_cert = make_server_cert(upstream_ca, pki, "upstream-registry")
    mirror_ca = make_ca(pki, "mirror-ca", common_name="ocp-airgap sandbox mirror registry CA")
    mirror_cert = make_server_cert(mirror_ca, pki, "mirror-registry")
    api_ca = make_ca(pki, "api-ca", common_name="ocp-airgap sandbox kube-apiserver CA")
    api_cert = make_server_cert(api_ca, pki, "api-server")
    upstream_password = secrets.token_urlsafe(24)
    publisher_password = secrets.token_urlsafe(24)
    mirror_password = secrets.token_urlsafe(18)
    readonly_password = secrets.token_urlsafe(18)
    admin_token = "sha256~" + secrets.token_urlsafe(32)
    readonly_token = "sha256~" + secrets.token_urlsafe(32)
    for s in (
        upstream_password,
        publisher_password,
        mirror_password,
        readonly_password,
        admin_token,
        readonly_token,
    ):
        register_secret(s)
    mirror_password_file = d / "mirror-password"
    readonly_password_file = d / "mirror-readonly-password"
    atomic_write_text(mirror_password_file, mirror_password + "\n", mode=0o600)
    atomic_write_text(readonly_password_file, readonly_password + "\n", mode=0o600)
    t = lap("certificates", t0)

    # --- registries -----------------------------------------------------------------------------------
    regs = d / "registries"
    up_ht = make_htpasswd(
        regs / "upstream-tokens" / "htpasswd",
        {UPSTREAM_USER: upstream_password, UPSTREAM_PUBLISHER: publisher_password},
    )
    # quay.io: openshift-release-dev/ocp-release is public, ocp-v4.0-art-dev needs the pull secret
    token_service, token_auth = start_token_server(
        regs / "upstream-tokens",
        tls=(upstream_cert.cert, upstream_cert.key),
        htpasswd=up_ht,
        users={
            # the pull secret reads everything the lab serves (quay.io releases, registry.redhat.io catalogs)
            UPSTREAM_USER: {"pull": ["*"]},
            UPSTREAM_PUBLISHER: {"pull": ["*"], "push": ["*"]},
        },
        anonymous_pull=[RELEASE_REPO],
        token_seconds=token_seconds,
        timeout=timeout,
    )
    _remember(token_service.proc)
    procs.add("upstream-token-service", token_service.pid, token_service.port, token_service.log_path)
    mi_ht = make_htpasswd(
        regs / "mirror" / "htpasswd", {MIRROR_USER: mirror_password, MIRROR_READONLY_USER: readonly_password}
    )
    upstream = RegistryProcess(
        regs / "upstream", tls=(upstream_cert.cert, upstream_cert.key), token=token_auth
    )
    mirror = RegistryProcess(
        regs / "mirror", tls=(mirror_cert.cert, mirror_cert.key), htpasswd=mi_ht, realm="mirror-sandbox"
    )
    for name, reg in (("upstream-registry", upstream), ("mirror-registry", mirror)):
        reg.start(timeout=timeout)
        assert reg.proc is not None and reg.pid is not None
        _remember(reg.proc)
        procs.add(name, reg.pid, reg.port, reg.log_path)
    certs_d = d / "certs.d"
    upstream_cert_dir = _cert_dir(certs_d, upstream.host, upstream_ca.cert)
    mirror_cert_dir = _cert_dir(certs_d, mirror.host, mirror_ca.cert)
    say(f"registries up: upstream {upstream.host}, mirror {mirror.host}")
    t = lap("registries", t)

    # --- credentials files ----------------------------------------------------------------------------
    pull_secret = {
        "auths": {
            "cloud.openshift.com": _auth_entry(UPSTREAM_USER, upstream_password),
            upstream.host: _auth_entry(UPSTREAM_USER, upstream_password),
        }
    }
    auth = {"auths": {**pull_secret["auths"], mirror.host: _auth_entry(MIRROR_USER, mirror_password)}}
    pull_secret_file, auth_file = d / "pull-secret.json", d / "auth.json"
    _write_json_secret(pull_secret_file, pull_secret)
    _write_json_secret(auth_file, auth)
    publisher_auth = regs / "upstream-tokens" / "publisher-auth.json"
    _write_json_secret(
        publisher_auth, {"auths": {upstream.host: _auth_entry(UPSTREAM_PUBLISHER, publisher_password)}}
    )

    # --- releases -------------------------------------------------------------------------------------
    features = profile.features
    legacy = (
        features.get("release_key") == "sha1-self-signed" or features.get("signature_writer") == "go-pre-2019"
    )
    key: Any = (
        generate_legacy_key(
            d / "signing",
            self_sig_hash="SHA1" if features.get("release_key") == "sha1-self-signed" else "SHA256",
        )
        if legacy
        else generate_key(d / "signing")
    )
    release_set = build_releases(
        d / "oci",
        upstream=upstream.host,
        versions=versions,
        extra_versions=profile.extra_versions,
        components=components,
        size_mb=size_mb,
        public_key=key.public_armored,
    )
    say(
        f"built {len(release_set.releases)} releases ({release_set.total_bytes / 1e6:.0f} MB) in {release_set.build_seconds:.1f} s"
    )
    t = lap("build_releases", t)

    # Sigstore: a cosign signature image sha256-<hex>.sig beside every release image (sandbox/cosign.py),
    # signed for the release repository's identity; a profile may withhold some (feature sigstore_unsigned)
    cosign_key = generate_cosign_key(d / "signing" / "cosign")
    unsigned = {str(v) for v in profile.features.get("sigstore_unsigned") or ()}
    for rel in release_set.releases:
        if rel.version in unsigned:
            continue
        sig_tag = add_signature_image(
            release_set.layout, rel.digest, f"{upstream.host}/{RELEASE_REPO}", cosign_key
        )
        release_set.pushes.append((sig_tag, f"{RELEASE_REPO}:{sig_tag}"))
    release_set.layout.write_index()

    # operator catalog: a real FBC index image for the target minor, its bundles and operator images
    from sandbox.catalogs import build_catalog

    catalog = build_catalog(
        d / "oci",
        upstream=upstream.host,
        minor=".".join(target.split(".")[:2]),
        current_minor=".".join(current.split(".")[:2]),
        blocking_operator=bool(profile.features.get("blocking_operator")),
    )
    t = lap("build_catalog", t)

    store = d / "sigstore"
    for rel in release_set.releases:
        ref = rel.tag_pullspec(upstream.host)
        signature = (
            key.sign_go(
                signature_payload(rel.digest, ref), hash_name=str(features.get("signature_hash", "SHA256"))
            )
            if legacy
            else sign_release(key.tsk, rel.digest, ref)
        )
        write_signature(store, rel.digest, signature)
    release_repo = f"{upstream.host}/{RELEASE_REPO}"
    payloads = {n.version: placeholder_payload(release_repo, n.version) for n in release_set.model.nodes}
    payloads.update({r.version: r.pullspec(upstream.host) for r in release_set.releases})
    graph_file = d / "httpd" / "graph.json"
    graph_file.parent.mkdir(parents=True, exist_ok=True)
    _write_json(graph_file, graph_document(release_set.model, payloads))
    by_version = {r.version: r for r in release_set.releases}
    t = lap("sign_and_graph", t)

    # --- web server and read-only proxy ------------------------------------------------------------
    httpd_port = free_port()
    base_url = f"http://127.0.0.1:{httpd_port}"
    signature_store = base_url + SIGSTORE_PREFIX
    graph_url = base_url + GRAPH_PATH
    httpd_cfg = {
        "listen_host": "127.0.0.1",
        "port": httpd_port,
        "port_file": str(d / "httpd" / "port"),
        "log_file": str(d / "httpd" / "httpd.log"),
        "sigstore_dir": str(store),
        "graph_file": str(graph_file),
    }

    def start_httpd() -> ServerProcess:
        return start_server(
            "signature store and update graph",
            "sandbox.httpd",
            httpd_cfg,
            d / "httpd" / "config.json",
            timeout=timeout,
        )

    def start_proxy() -> ServerProcess:
        return start_roproxy(
            d / "mirror-readonly",
            upstream=mirror.url,
            upstream_ca=mirror_ca.cert,
            tls=(mirror_cert.cert, mirror_cert.key),
            timeout=timeout,
        )

    # --- simulated OpenShift API config -------------------------------------------------------------
    api_dir = d / "api"
    api_dir.mkdir(parents=True, exist_ok=True)
    cur = by_version[current]
    api_cfg = {
        "listen_host": "127.0.0.1",
        "port": 0,
        "port_file": str(api_dir / "port"),
        "tls": {"cert": str(api_cert.cert), "key": str(api_cert.key)},
        "tokens": {
            admin_token: {
                "user": "kube:admin",
                "groups": ["system:cluster-admins", "system:authenticated"],
                "admin": True,
            },
            readonly_token: {"user": "auditor", "groups": ["system:authenticated"], "admin": False},
        },
        "log_file": str(api_dir / "api.log"),
        "cluster": {
            "cluster_id": str(uuid.uuid4()),
            "current_version": current,
            "current_image": cur.pullspec(upstream.host),
            "channel": f"stable-{'.'.join(current.split('.')[:2])}",
            "upstream_graph": graph_url,
            "upstream_registry": upstream.host,
            "mirror_registry": mirror.host,
            # a disconnected cluster already has the mirror's (read) credentials and its CA
            "pull_secret": {
                "auths": {
                    **pull_secret["auths"],
                    mirror.host: _auth_entry(MIRROR_READONLY_USER, readonly_password),
                }
            },
            "trusted_ca_pem": mirror_ca.cert.read_text(),
            "release_verification_public_key": key.public_armored,
            "catalog_image": f"{mirror.host}/olm/redhat-operator-index:v{'.'.join(current.split('.')[:2])}",
            "olm": catalog.olm,
        },
        "timing": {"speed": speed},
    }
    api_cfg["cluster"]["profile"] = profile.name  # type: ignore[index]
    api_cfg["cluster"]["features"] = dict(profile.features)  # type: ignore[index]
    if profile.features.get("sigstore_policy"):
        # the cluster's 'openshift' ClusterImagePolicy names the lab's release repository and cosign key
        api_cfg["cluster"]["features"]["sigstore_policy"] = {  # type: ignore[index]
            "scopes": [release_repo],
            "key_pem": cosign_key.public_pem.decode(),
        }

    def start_api() -> ServerProcess:
        return start_server(
            "simulated OpenShift API",
            "sandbox.apiserver",
            api_cfg,
            api_dir / "config.json",
            timeout=timeout,
            probe_path="/version",
        )

    # --- servers, started while the releases are pushed --------------------------------------------
    with ThreadPoolExecutor(max_workers=4) as pool:
        push = pool.submit(
            push_layout,
            d / "oci",
            release_set.pushes + catalog.pushes,
            upstream.host,
            authfile=publisher_auth,
            cert_dir=upstream_cert_dir,
            jobs=jobs,
            timeout=max(timeout, 120.0),
        )
        starting = {"httpd": pool.submit(start_httpd), "mirror-readonly-proxy": pool.submit(start_proxy)}
        if api:
            starting["apiserver"] = pool.submit(start_api)
        servers: dict[str, ServerProcess] = {}
        errors: list[BaseException] = []
        for name, fut in starting.items():
            try:
                servers[name] = fut.result()
                _remember(servers[name].proc)
                procs.add(name, servers[name].pid, servers[name].port, servers[name].log_path)
            except BaseException as exc:  # keep going so every started process gets recorded
                errors.append(exc)
        try:
            push_seconds = push.result()
        except BaseException as exc:
            errors.append(exc)
            push_seconds = 0.0
        if errors:
            raise errors[0]
    timings["push_seconds"] = round(push_seconds, 3)
    say(f"pushed {len(release_set.pushes)} images to the upstream registry in {push_seconds:.1f} s")
    t = lap("push_and_servers", t)
    proxy = servers["mirror-readonly-proxy"]
    api_server = f"https://127.0.0.1:{servers['apiserver'].port}" if api else ""
    if api:
        say(f"simulated OpenShift API up at {api_server}")

    # --- kubeconfig and plan --------------------------------------------------------------------------
    kubeconfig = d / "kubeconfig"
    _write_kubeconfig(
        kubeconfig, api_server or "https://127.0.0.1:1", api_ca.cert, admin_token, readonly_token
    )
    plan = Plan()
    plan.cluster.kubeconfig = str(kubeconfig)
    plan.cluster.context = "admin"
    plan.mirror.registry = mirror.host
    plan.mirror.repository = MIRROR_REPOSITORY
    plan.mirror.ca_file = str(mirror_ca.cert)
    plan.mirror.username = MIRROR_USER
    plan.mirror.password_file = str(mirror_password_file)
    plan.release.version = target
    plan.release.architecture = "x86_64"
    plan.release.channel = f"stable-{'.'.join(target.split('.')[:2])}"
    plan.mirroring.media_path = str(d / "media")
    plan.endpoints.release_source = release_repo
    plan.endpoints.component_source = f"{upstream.host}/{COMPONENT_REPO}"
    plan.endpoints.source_ca_file = str(upstream_ca.cert)
    plan.endpoints.signature_store = signature_store
    plan.endpoints.update_graph = graph_url
    plan.endpoints.operator_index = catalog.index_ref.rsplit(":", 1)[0]
    plan.endpoints.operator_index_ca_file = str(upstream_ca.cert)
    plan.auth_file = str(auth_file)
    problems = plan.problems()
    if problems:
        raise SandboxError(f"the lab's plan is invalid: {problems}")
    plan_path = d / "plan.yaml"
    plan.save(plan_path)

    releases = [
        ReleaseInfo(
            version=r.version,
            architecture=r.architecture,
            digest=r.digest,
            pullspec=r.pullspec(upstream.host),
            tag_pullspec=r.tag_pullspec(upstream.host),
            channels=r.channels,
            signature_url=f"{signature_store}/sha256={r.digest.split(':', 1)[1]}/signature-1",
            components=len(r.components),
        )
        for r in release_set.releases
    ]
    timings["setup_total"] = round(time.monotonic() - t0, 3)
    return SandboxInfo(
        directory=str(d),
        kubeconfig=str(kubeconfig),
        plan=str(plan_path),
        auth_file=str(auth_file),
        pull_secret=str(pull_secret_file),
        pids=procs.pids,
        upstream=UpstreamInfo(
            registry=upstream.host,
            ca_file=str(upstream_ca.cert),
            cert_dir=str(upstream_cert_dir),
            username=UPSTREAM_USER,
            release_repository=release_repo,
            component_repository=f"{upstream.host}/{COMPONENT_REPO}",
            token_realm=token_auth.realm,
            token_seconds=token_seconds,
            token_log=token_auth.log_file,
        ),
        mirror=MirrorInfo(
            registry=mirror.host,
            repository=MIRROR_REPOSITORY,
            ca_file=str(mirror_ca.cert),
            username=MIRROR_USER,
            password_file=str(mirror_password_file),
            cert_dir=str(mirror_cert_dir),
            readonly_registry=proxy.host,
            readonly_username=MIRROR_READONLY_USER,
            readonly_password_file=str(readonly_password_file),
        ),
        releases=releases,
        signature_store=signature_store,
        graph_url=graph_url,
        current_version=current,
        target_version=target,
        api=ApiInfo(server=api_server, ca_file=str(api_ca.cert)),
        signing_key=SigningKeyInfo(
            public_key=str(key.public_file),
            secret_key=str(key.secret_file),
            fingerprint=key.fingerprint,
            sigstore_public_key=str(cosign_key.public_file),
            sigstore_private_key=str(cosign_key.private_file),
        ),
        speed=speed,
        timings=timings,
        profile=profile.name,
        operator_index=catalog.index_ref,
        operator_index_variants=dict(catalog.broken),
    )


def _write_kubeconfig(path: Path, server: str, ca: Path, admin_token: str, readonly_token: str) -> None:
    ca_data = base64.b64encode(ca.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "sandbox", "cluster": {"server": server, "certificate-authority-data": ca_data}}
        ],
        "users": [
            {"name": "admin", "user": {"token": admin_token}},
            {"name": "auditor", "user": {"token": readonly_token}},
        ],
        "contexts": [
            {"name": "admin", "context": {"cluster": "sandbox", "user": "admin", "namespace": "default"}},
            {
                "name": "readonly",
                "context": {"cluster": "sandbox", "user": "auditor", "namespace": "default"},
            },
        ],
        "current-context": "admin",
        "preferences": {},
    }
    atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False), mode=0o600)


def describe(info: SandboxInfo) -> list[str]:
    """Human-readable summary lines (no secrets)."""
    lines = [
        f"lab folder:        {info.directory}",
        f"kubeconfig:        {info.kubeconfig}  (contexts: admin, readonly)",
        f"plan:              {info.plan}",
        f"auth file:         {info.auth_file}",
        f"pull secret:       {info.pull_secret}",
        f"upstream registry: {info.upstream.registry}  (plays quay.io; CA {info.upstream.ca_file}; "
        f"tokens from {info.upstream.token_realm or '-'})",
        f"mirror registry:   {info.mirror.registry}/{info.mirror.repository}  (user {info.mirror.username}, "
        f"password in {info.mirror.password_file})",
        f"read-only mirror:  {info.mirror.readonly_registry}  (user {info.mirror.readonly_username})",
        f"signature store:   {info.signature_store}",
        f"update graph:      {info.graph_url}",
        f"OpenShift API:     {info.api.server or '(not started)'}",
        f"cluster version:   {info.current_version}; plan target {info.target_version}",
    ]
    for r in info.releases:
        lines.append(f"  release {r.version:<9} {r.pullspec}")
    return lines


def wait_all_gone(pids: Iterable[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        pending = {p for p in pending if pid_alive(p)}
        if pending:
            time.sleep(0.02)
    return not pending
