"""Trust the mirror registry's CA, on this host and on the cluster (docs/steps/credentials.md; OpenShift's
"additional trusted CA" for image registries).

Host side (:func:`plan_host_trust`, :func:`apply_host_trust`):

- RHEL family: copy the PEM to ``/usr/share/pki/ca-trust-source/anchors/`` and run ``update-ca-trust``;
- Debian family: copy it as ``/usr/local/share/ca-certificates/<name>.crt`` and run ``update-ca-certificates``;
- for podman/skopeo/oc-mirror also ``/etc/containers/certs.d/<host:port>/ca.crt``.

Only root can do that: as another user nothing is changed and the exact commands are printed instead. The
folders hang off a ``root`` (``/`` normally) so tests can work in a scratch tree and never touch the real
system trust.

Cluster side (:func:`plan_cluster_trust`, :func:`apply_cluster_trust`): the CA goes into a ConfigMap in
``openshift-config`` under the key ``<host>..<port>`` (``..`` replaces ``:``), and
``image.config.openshift.io/cluster`` ``spec.additionalTrustedCA.name`` names that ConfigMap (merge patch). If
the image config already names a ConfigMap, the key is added to that one, so CAs trusted before stay trusted.

Every change is first returned as a :class:`~engine.changes.Change` to show and confirm; applying records it
in the journal.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from engine.changes import Change
from engine.cluster import CONFIGMAP, IMAGE_CONFIG
from engine.context import Context
from engine.errors import AirgapError, InputError
from engine.fsutil import atomic_write_bytes
from engine.proc import run_streaming

STEP = "credentials"
CONFIG_NAMESPACE = "openshift-config"
DEFAULT_CONFIGMAP = "registry-cas"

RHEL = "rhel"
DEBIAN = "debian"


# ----- the certificate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CACertificate:
    pem: bytes
    """Every certificate of the file, as PEM."""
    subject: str
    not_after: datetime
    is_ca: bool
    fingerprint: str
    """SHA-256 of the first certificate, hex with colons."""
    source: str = ""

    @property
    def text(self) -> str:
        return self.pem.decode("ascii")


def load_ca(path: str | os.PathLike[str]) -> CACertificate:
    """A CA file in PEM (one or several certificates) or DER form, as the docs allow."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"CA file {p} does not exist",
            fix="Give the PEM or DER file of the CA that signed the registry's certificate.",
        ) from None
    return parse_ca(data, str(p))


def parse_ca(data: bytes, source: str = "") -> CACertificate:
    certs: list[x509.Certificate]
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InputError(
            f"not a PEM or DER certificate ({exc})",
            path=source or None,
            fix="Give the CA certificate file (PEM '-----BEGIN CERTIFICATE-----' or binary DER).",
        ) from None
    first = certs[0]
    try:
        bc = first.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bool(bc.ca)
    except x509.ExtensionNotFound:
        is_ca = first.issuer == first.subject
    pem = b"".join(c.public_bytes(Encoding.PEM) for c in certs)
    digest = first.fingerprint(hashes.SHA256())
    return CACertificate(
        pem=pem,
        subject=first.subject.rfc4514_string(),
        not_after=first.not_valid_after_utc,
        is_ca=is_ca,
        fingerprint=":".join(f"{b:02X}" for b in digest),
        source=source,
    )


def split_registry(registry: str) -> tuple[str, str]:
    """``host:port`` → (host, port); port may be ''. IPv6 in brackets is kept whole."""
    if registry.startswith("["):
        host, _, rest = registry.partition("]")
        return host + "]", rest.lstrip(":")
    host, _, port = registry.partition(":")
    return host, port


def configmap_key(registry: str) -> str:
    """``<host>..<port>`` (a ConfigMap key cannot hold ':'), or ``<host>`` without a port."""
    host, port = split_registry(registry)
    return f"{host}..{port}" if port else host


# ----- host trust ---------------------------------------------------------------------------------------


@dataclass
class HostTrustLayout:
    """Where the host keeps its trust; ``root`` is ``/`` except in tests."""

    family: str
    root: Path = Path("/")
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)

    def _p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def anchor(self, registry: str) -> Path:
        name = registry.replace(":", "_").replace("[", "").replace("]", "")
        if self.family == RHEL:
            return self._p("/usr/share/pki/ca-trust-source/anchors") / f"{name}.crt"
        return self._p("/usr/local/share/ca-certificates") / f"{name}.crt"

    def certs_d(self, registry: str) -> Path:
        return self._p("/etc/containers/certs.d") / registry / "ca.crt"

    @property
    def bundle(self) -> Path:
        """The combined trust bundle the refresh command writes."""
        if self.family == RHEL:
            return self._p("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")
        return self._p("/etc/ssl/certs/ca-certificates.crt")

    def refresh_command(self) -> list[str]:
        if self.family == RHEL:
            return ["update-ca-trust"] if self.root == Path("/") else ["update-ca-trust", "extract"]
        if self.root == Path("/"):
            return ["update-ca-certificates"]
        return [
            "update-ca-certificates",
            "--certsconf",
            str(self._p("/etc/ca-certificates.conf")),
            "--certsdir",
            str(self._p("/usr/share/ca-certificates")),
            "--localcertsdir",
            str(self._p("/usr/local/share/ca-certificates")),
            "--etccertsdir",
            str(self._p("/etc/ssl/certs")),
            "--hooksdir",
            str(self._p("/etc/ca-certificates/update.d")),
        ]

    @property
    def can_refresh(self) -> bool:
        """``update-ca-trust`` has no options for another root; ``update-ca-certificates`` does."""
        return self.family == DEBIAN or self.root == Path("/")


def detect_family(root: Path = Path("/")) -> str:
    if (root / "etc/redhat-release").exists() or (root / "usr/bin/update-ca-trust").exists():
        return RHEL
    if (root / "etc/debian_version").exists() or (root / "usr/sbin/update-ca-certificates").exists():
        return DEBIAN
    if shutil.which("update-ca-trust"):
        return RHEL
    if shutil.which("update-ca-certificates"):
        return DEBIAN
    raise AirgapError(
        "cannot tell how this host manages its CA trust (neither update-ca-trust nor update-ca-certificates)",
        fix="Add the CA to the system trust by hand, as your distribution documents it.",
    )


@dataclass
class HostTrustPlan:
    registry: str
    ca: CACertificate
    layout: HostTrustLayout
    changes: list[Change]
    refresh: list[str]
    """The command that rebuilds the system bundle after the anchor is written."""

    @property
    def needed(self) -> bool:
        return bool(self.changes)

    def commands(self) -> list[list[str]]:
        """The exact commands that do the same by hand (with sudo when not root)."""
        sudo = [] if self.layout.as_root else ["sudo"]
        out: list[list[str]] = []
        src = self.ca.source or "<ca.crt>"
        for change in self.changes:
            dest = Path(change.resource)
            out.append([*sudo, "mkdir", "-p", str(dest.parent)])
            out.append([*sudo, "cp", src, str(dest)])
        if self.changes:
            out.append([*sudo, *self.refresh])
        return out


def plan_host_trust(registry: str, ca: CACertificate, layout: HostTrustLayout | None = None) -> HostTrustPlan:
    """What trusting ``ca`` for ``registry`` changes on this host; files already holding it are left out."""
    layout = layout or HostTrustLayout(detect_family())
    changes: list[Change] = []
    for dest, what in (
        (layout.anchor(registry), "system trust anchor"),
        (layout.certs_d(registry), "containers certs.d (podman, skopeo, oc-mirror)"),
    ):
        before = dest.read_text(encoding="ascii", errors="replace") if dest.exists() else None
        if before is not None and before.encode() == ca.pem:
            continue
        changes.append(
            Change(
                title=f"Trust the CA {ca.subject} for {registry}: {what}",
                resource=str(dest),
                before=before,
                after=ca.text,
                command=["cp", ca.source or "<ca.crt>", str(dest)],
            )
        )
    return HostTrustPlan(registry, ca, layout, changes, layout.refresh_command())


def apply_host_trust(ctx: Context, plan: HostTrustPlan) -> bool:
    """Write the files and refresh the bundle when root; otherwise print the exact commands and change nothing.

    Returns True when the host trust was changed."""
    emit = ctx.emit
    if not plan.needed:
        emit.info(f"This host already trusts the CA {plan.ca.subject} for {plan.registry}.")
        return False
    if not plan.layout.as_root:
        emit.warning(
            "Trusting a CA system-wide needs root; nothing was changed. Run these commands as root (or with sudo):"
        )
        for argv in plan.commands():
            emit.command(argv)
        return False
    for change in plan.changes:
        dest = Path(change.resource)
        emit.command(["mkdir", "-p", str(dest.parent)])
        emit.command(change.command)
        atomic_write_bytes(dest, plan.ca.pem, mode=0o644)
        _journal(ctx, change, dest)
    if plan.layout.can_refresh:
        emit.command(plan.refresh)
        res = run_streaming(plan.refresh, on_line=lambda _s, line: emit.debug(line), timeout=120)
        if not res.ok:
            raise AirgapError(
                f"{plan.refresh[0]} failed: {res.tail()}",
                fix=f"Run {shlex.join(plan.refresh)} by hand and read its messages.",
            )
    else:
        emit.warning(f"Run {shlex.join(plan.refresh)} in that system to rebuild its bundle.")
    emit.info(f"This host now trusts the CA {plan.ca.subject} for {plan.registry}.")
    return True


def _journal(ctx: Context, change: Change, dest: Path) -> None:
    try:
        journal = ctx.journal
    except InputError as exc:  # no kubeconfig on this host: nothing to attach the record to
        ctx.emit.debug(f"not recorded in a cluster journal ({exc.message})")
        return
    journal.change(
        STEP,
        change.action,
        f"file:{dest}",
        before=_fingerprint_of(change.before),
        after=_fingerprint_of(change.after),
        command=shlex.join(change.command),
    )


def _fingerprint_of(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# ----- cluster trust ------------------------------------------------------------------------------------


@dataclass
class ClusterTrustStep:
    change: Change
    apply: Callable[[], Any]


def plan_cluster_trust(ctx: Context, registry: str, ca: CACertificate) -> list[ClusterTrustStep]:
    """The ConfigMap and image config changes that make the cluster trust ``ca`` for ``registry``."""
    cluster = ctx.cluster
    image = cluster.get(IMAGE_CONFIG, "cluster")
    current_name = str(((image.get("spec") or {}).get("additionalTrustedCA") or {}).get("name") or "")
    name = current_name or DEFAULT_CONFIGMAP
    key = configmap_key(registry)
    steps: list[ClusterTrustStep] = []
    cm = cluster.get_or_none(CONFIGMAP, name, CONFIG_NAMESPACE)
    oc = ["oc", *cluster.oc_args()]
    src = ca.source or "<ca.crt>"
    if cm is None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": CONFIG_NAMESPACE},
            "data": {key: ca.text},
        }
        steps.append(
            ClusterTrustStep(
                Change(
                    title=f"Create ConfigMap {name} in {CONFIG_NAMESPACE} with the CA for {registry}",
                    resource=f"configmap/{CONFIG_NAMESPACE}/{name}",
                    before=None,
                    after=body,
                    command=[
                        *oc,
                        "create",
                        "configmap",
                        name,
                        "-n",
                        CONFIG_NAMESPACE,
                        f"--from-file={key}={src}",
                    ],
                ),
                lambda: cluster.create(CONFIGMAP, body, CONFIG_NAMESPACE),
            )
        )
    elif (cm.get("data") or {}).get(key) != ca.text:
        after = copy.deepcopy(cm)
        after.setdefault("data", {})[key] = ca.text
        patch = {"data": {key: ca.text}}
        steps.append(
            ClusterTrustStep(
                Change(
                    title=f"Add the CA for {registry} to ConfigMap {name} in {CONFIG_NAMESPACE} (key {key})",
                    resource=f"configmap/{CONFIG_NAMESPACE}/{name}",
                    before=_cm_view(cm),
                    after=_cm_view(after),
                    command=[
                        *oc,
                        "set",
                        "data",
                        f"configmap/{name}",
                        "-n",
                        CONFIG_NAMESPACE,
                        f"--from-file={key}={src}",
                    ],
                ),
                lambda: cluster.merge_patch(CONFIGMAP, name, patch, CONFIG_NAMESPACE),
            )
        )
    if current_name != name:
        patch_img = {"spec": {"additionalTrustedCA": {"name": name}}}
        before_spec = {"spec": {"additionalTrustedCA": (image.get("spec") or {}).get("additionalTrustedCA")}}
        steps.append(
            ClusterTrustStep(
                Change(
                    title=f"Point image.config.openshift.io/cluster at ConfigMap {name} (additionalTrustedCA)",
                    resource="image.config.openshift.io/cluster",
                    before=before_spec,
                    after=patch_img,
                    command=[
                        *oc,
                        "patch",
                        "image.config.openshift.io/cluster",
                        "--type=merge",
                        "--patch",
                        '{"spec":{"additionalTrustedCA":{"name":"' + name + '"}}}',
                    ],
                ),
                lambda: cluster.merge_patch(IMAGE_CONFIG, "cluster", patch_img),
            )
        )
    return steps


def _cm_view(cm: dict[str, Any]) -> dict[str, Any]:
    """What matters of a ConfigMap for a diff (no managed fields, resourceVersion...)."""
    meta = cm.get("metadata") or {}
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "data": dict(cm.get("data") or {}),
    }


def apply_cluster_trust(ctx: Context, steps: list[ClusterTrustStep]) -> None:
    if not steps:
        ctx.emit.info("The cluster already trusts this CA for the mirror registry.")
        return
    for step in steps:
        ctx.check_cancel()
        ctx.emit.command(step.change.command)
        step.apply()
        ctx.journal.change(
            STEP,
            step.change.action,
            step.change.resource,
            before=_summarize(step.change.before),
            after=_summarize(step.change.after),
            command=shlex.join(step.change.command),
        )
    ctx.emit.info(
        "The cluster trusts the mirror registry's CA; the image registry and the nodes pick it up "
        "without a reboot."
    )


def _summarize(obj: Any) -> Any:
    """For the journal: ConfigMap data keys with the CA's fingerprint instead of the whole PEM."""
    if not isinstance(obj, dict):
        return obj
    out = copy.deepcopy(obj)
    data = out.get("data")
    if isinstance(data, dict):
        out["data"] = {k: _fingerprint_of(v) for k, v in data.items()}
    return out


__all__ = [
    "DEBIAN",
    "RHEL",
    "CACertificate",
    "ClusterTrustStep",
    "HostTrustLayout",
    "HostTrustPlan",
    "apply_cluster_trust",
    "apply_host_trust",
    "configmap_key",
    "detect_family",
    "load_ca",
    "parse_ca",
    "plan_cluster_trust",
    "plan_host_trust",
    "split_registry",
]
