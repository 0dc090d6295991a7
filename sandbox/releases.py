"""Synthetic OpenShift releases, built as an OCI image layout with the standard library and pushed with skopeo.

Each release is a real release image: its layers hold ``/release-manifests/release-metadata`` (Cincinnati
metadata), ``/release-manifests/image-references`` (an ImageStream naming every component by digest in
``<upstream>/openshift-release-dev/ocp-v4.0-art-dev``), a few payload manifests (among them the
``release-verification`` ConfigMap with the lab's public key) and ``/manifests/`` with CVO manifests. Component
images share two base layers ("RHEL" and "OpenShift" base) and add one layer of their own. Layer data is
pseudo-random (so sizes are real after compression) but fully deterministic: the same inputs give the same
digests. Between versions most components keep their digest, as in real z-streams.

The engine's own registry code is deliberately not used here: skopeo is the reference peer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from sandbox.graph import GraphModel, build_model, channels_for, errata_url, minor_of, parse_version
from sandbox.registry import SandboxError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
RELEASE_REPO = "openshift-release-dev/ocp-release"
COMPONENT_REPO = "openshift-release-dev/ocp-v4.0-art-dev"
ARCH_TAG = {"amd64": "x86_64", "arm64": "aarch64"}
MiB = 1 << 20

# Real component names of an OpenShift 4.16 payload (a subset; "components=N" takes the first N, then
# numbered extras). The first few are the ones a cluster update visibly touches.
# fmt: off
COMPONENT_NAMES: tuple[str, ...] = (
    "cluster-version-operator", "machine-config-operator", "etcd", "hyperkube", "cli", "installer",
    "cluster-etcd-operator", "cluster-kube-apiserver-operator", "cluster-kube-controller-manager-operator",
    "cluster-kube-scheduler-operator", "cluster-openshift-apiserver-operator", "openshift-apiserver",
    "cluster-authentication-operator", "oauth-server", "cluster-network-operator", "ovn-kubernetes",
    "cluster-ingress-operator", "haproxy-router", "cluster-dns-operator", "coredns",
    "cluster-image-registry-operator", "docker-registry", "cluster-monitoring-operator", "prometheus",
    "rhel-coreos", "cluster-machine-approver", "machine-api-operator",
    "cluster-cloud-controller-manager-operator", "cluster-storage-operator",
    "cluster-csi-snapshot-controller-operator", "csi-snapshot-controller", "console-operator", "console",
    "cluster-samples-operator", "cluster-openshift-controller-manager-operator",
    "openshift-controller-manager", "cluster-config-operator", "cluster-update-keys",
    "cluster-policy-controller", "cluster-node-tuning-operator", "cluster-autoscaler-operator",
    "cluster-autoscaler", "cloud-credential-operator", "cluster-baremetal-operator", "baremetal-installer",
    "ironic", "ironic-agent", "ironic-machine-os-downloader", "ironic-static-ip-manager", "insights-operator",
    "operator-lifecycle-manager", "operator-registry", "operator-marketplace", "service-ca-operator",
    "cluster-olm-operator", "olm-catalogd", "olm-operator-controller", "multus-cni",
    "multus-admission-controller", "multus-networkpolicy", "multus-route-override-cni",
    "multus-whereabouts-ipam-cni", "network-tools", "network-metrics-daemon", "network-interface-bond-cni",
    "egress-router-cni", "container-networking-plugins", "kube-rbac-proxy", "kube-state-metrics",
    "node-exporter", "openshift-state-metrics", "prometheus-operator",
    "prometheus-operator-admission-webhook", "prometheus-config-reloader", "prometheus-alertmanager",
    "prometheus-node-exporter", "telemeter", "thanos", "kube-metrics-server", "monitoring-plugin",
    "configmap-reloader", "pod", "tools", "must-gather", "tests", "driver-toolkit", "machine-os-images",
    "machine-config-operator-tests", "keepalived-ipfailover", "haproxy", "baremetal-runtimecfg",
    "mdns-publisher", "oauth-proxy", "oauth-apiserver", "openshift-state-metrics-tests", "cluster-bootstrap",
    "cluster-capi-operator", "cluster-api", "aws-cluster-api-controllers", "azure-cluster-api-controllers",
    "gcp-cluster-api-controllers", "vsphere-cluster-api-controllers", "ibmcloud-cluster-api-controllers",
    "openstack-cluster-api-controllers", "aws-machine-controllers", "azure-machine-controllers",
    "gcp-machine-controllers", "vsphere-machine-controllers", "openstack-machine-controllers",
    "ibmcloud-machine-controllers", "powervs-machine-controllers", "nutanix-machine-controllers",
    "libvirt-machine-controllers", "aws-cloud-controller-manager", "azure-cloud-controller-manager",
    "azure-cloud-node-manager", "gcp-cloud-controller-manager", "vsphere-cloud-controller-manager",
    "openstack-cloud-controller-manager", "ibm-cloud-controller-manager", "powervs-cloud-controller-manager",
    "nutanix-cloud-controller-manager", "alibaba-cloud-controller-manager", "aws-ebs-csi-driver",
    "aws-ebs-csi-driver-operator", "azure-disk-csi-driver", "azure-disk-csi-driver-operator",
    "azure-file-csi-driver", "azure-file-csi-driver-operator", "gcp-pd-csi-driver",
    "gcp-pd-csi-driver-operator", "vsphere-csi-driver", "vsphere-csi-driver-operator",
    "vsphere-csi-driver-syncer", "openstack-cinder-csi-driver", "openstack-cinder-csi-driver-operator",
    "openstack-manila-csi-driver", "csi-driver-manila-operator", "ibm-vpc-block-csi-driver",
    "ibm-vpc-block-csi-driver-operator", "ibm-vpc-node-label-updater", "powervs-block-csi-driver",
    "powervs-block-csi-driver-operator", "csi-driver-shared-resource", "csi-driver-shared-resource-operator",
    "csi-driver-shared-resource-webhook", "csi-external-attacher", "csi-external-provisioner",
    "csi-external-resizer", "csi-external-snapshotter", "csi-livenessprobe", "csi-node-driver-registrar",
    "csi-snapshot-validation-webhook", "local-storage-static-provisioner",
    "cluster-kube-storage-version-migrator-operator", "kube-storage-version-migrator",
    "vsphere-problem-detector", "cluster-platform-operators-manager",
    "cluster-control-plane-machine-set-operator", "cluster-olm-operator-tests", "deployer", "builder",
    "docker-builder", "hypershift", "k8s-prometheus-adapter", "kube-proxy", "ovirt-csi-driver",
    "ovirt-csi-driver-operator", "ovirt-machine-controllers", "kuryr-cni", "kuryr-controller", "sdn",
    "openshift-route-controller-manager", "route-controller-manager", "oc-mirror", "azure-service-operator",
    "aws-pod-identity-webhook", "azure-workload-identity-webhook", "gcp-workload-identity-federation-webhook",
    "insights-runtime-extractor", "insights-runtime-exporter", "prom-label-proxy", "frr",
    "agent-installer-api-server", "agent-installer-csr-approver", "agent-installer-node-agent",
    "agent-installer-orchestrator", "agent-installer-utils", "cluster-image-registry-operator-tests",
    "machine-image-customization-controller", "openshift-apiserver-tests", "operator-framework-tools",
    "rhel-coreos-extensions", "ovn-kubernetes-microshift", "etcd-tests",
)
# fmt: on


def component_names(n: int) -> list[str]:
    names = list(dict.fromkeys(COMPONENT_NAMES))
    if n <= len(names):
        return names[:n]
    return names + [f"sandbox-component-{i:03d}" for i in range(len(names), n)]


# ----- deterministic content -------------------------------------------------------------------------------
def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


class RandomReader(io.RawIOBase):
    """``size`` pseudo-random bytes from a seed, readable in chunks (nothing held in memory)."""

    def __init__(self, seed: int, size: int) -> None:
        self._rng = random.Random(seed)
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        if n:
            buffer[:n] = self._rng.randbytes(n)
            self._left -= n
        return n


@dataclass(frozen=True)
class FileSpec:
    """A regular file in a layer: fixed bytes or ``random_size`` pseudo-random bytes from ``random_seed``."""

    path: str
    data: bytes = b""
    random_size: int = 0
    random_seed: int = 0
    mode: int = 0o644

    @property
    def size(self) -> int:
        return self.random_size if self.random_size else len(self.data)

    def open(self) -> IO[bytes]:
        if self.random_size:
            return io.BufferedReader(RandomReader(self.random_seed, self.random_size), buffer_size=MiB)
        return io.BytesIO(self.data)


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str = ""

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"mediaType": media_type or self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Layer(Blob):
    diff_id: str = ""


class _HashingWriter(io.RawIOBase):
    def __init__(self, target: Any) -> None:
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        mv = memoryview(b)
        self.sha.update(mv)
        self.size += len(mv)
        if self.target is not None:
            self.target.write(mv)
        return len(mv)


class OciLayout:
    """A writable OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) with content caching."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self.refs: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, Layer] = {}
        idx = self.root / "index.json"
        if idx.exists():
            for m in json.loads(idx.read_text()).get("manifests", []):
                ref = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
                if ref:
                    self.refs[ref] = m

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    def put_blob(self, data: bytes, media_type: str = "") -> Blob:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        p = self.blob_path(digest)
        if not p.exists():
            tmp = p.with_name(p.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, p)
        return Blob(digest, len(data), media_type)

    def put_json(self, obj: Any, media_type: str) -> Blob:
        return self.put_blob(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode(), media_type)

    def add_layer(self, key: str, files: Sequence[FileSpec], *, compresslevel: int = 1) -> Layer:
        """A gzip tar layer holding ``files`` (parents created). ``key`` caches it within this layout."""
        if key in self._layers:
            return self._layers[key]
        fd, tmp_name = tempfile.mkstemp(prefix=".layer.", dir=self.root / "blobs" / "sha256")
        try:
            with os.fdopen(fd, "wb") as out:
                compressed = _HashingWriter(out)
                with gzip.GzipFile(
                    filename="", fileobj=compressed, mode="wb", compresslevel=compresslevel, mtime=0
                ) as gz:
                    raw = _HashingWriter(gz)
                    with tarfile.open(fileobj=raw, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                        tar.copybufsize = MiB  # type: ignore[attr-defined]
                        dirs: set[str] = set()
                        for spec in sorted(files, key=lambda f: f.path):
                            parts = spec.path.strip("/").split("/")
                            for i in range(1, len(parts)):
                                d = "/".join(parts[:i])
                                if d not in dirs:
                                    dirs.add(d)
                                    tar.addfile(_tarinfo(d + "/", 0, 0o755, tarfile.DIRTYPE))
                            with spec.open() as src:
                                tar.addfile(_tarinfo(spec.path.strip("/"), spec.size, spec.mode), src)
            digest = "sha256:" + compressed.sha.hexdigest()
            final = self.blob_path(digest)
            if final.exists():
                os.unlink(tmp_name)
            else:
                os.replace(tmp_name, final)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        layer = Layer(digest, compressed.size, OCI_LAYER_GZIP, "sha256:" + raw.sha.hexdigest())
        self._layers[key] = layer
        return layer

    def add_image(
        self,
        layers: Sequence[Layer],
        *,
        labels: Mapping[str, str],
        architecture: str = "amd64",
        created: str = "2024-01-01T00:00:00Z",
        entrypoint: Sequence[str] = (),
        annotations: Mapping[str, str] | None = None,
    ) -> Blob:
        config = {
            "architecture": architecture,
            "os": "linux",
            "created": created,
            "config": {
                "Labels": dict(labels),
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"],
                **({"Entrypoint": list(entrypoint)} if entrypoint else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [
                {"created": created, "created_by": f"ocp-airgap sandbox layer {i}"}
                for i in range(len(layers))
            ],
        }
        cfg = self.put_json(config, OCI_CONFIG)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": cfg.descriptor(),
            "layers": [layer.descriptor() for layer in layers],
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        return self.put_json(manifest, OCI_MANIFEST)

    def tag(self, ref: str, manifest: Blob) -> None:
        self.refs[ref] = manifest.descriptor(annotations={"org.opencontainers.image.ref.name": ref})

    def write_index(self) -> None:
        doc = {"schemaVersion": 2, "manifests": [self.refs[r] for r in sorted(self.refs)]}
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.root / "index.json")

    def total_blob_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in (self.root / "blobs" / "sha256").iterdir() if not p.name.startswith(".")
        )


def _tarinfo(name: str, size: int, mode: int, type_: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mode = mode
    ti.type = type_
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


# ----- releases --------------------------------------------------------------------------------------------
@dataclass
class ComponentImage:
    name: str
    digest: str
    size: int
    """Bytes of its own layer(s) plus config and manifest (base layers not counted)."""
    tag: str
    """The tag it is pushed under in the component repository (skopeo cannot push by digest alone)."""
    built_for: str
    """The version that introduced this exact image (unchanged components keep the older digest)."""


@dataclass
class BuiltRelease:
    version: str
    architecture: str
    """x86_64 / aarch64 (the tag suffix; the image config says amd64 / arm64)."""
    digest: str
    tag: str
    """``<version>-<architecture>``"""
    components: dict[str, ComponentImage]
    channels: list[str]
    previous: list[str]
    size: int = 0

    def pullspec(self, upstream: str) -> str:
        return f"{upstream}/{RELEASE_REPO}@{self.digest}"

    def tag_pullspec(self, upstream: str) -> str:
        return f"{upstream}/{RELEASE_REPO}:{self.tag}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReleaseSet:
    """Every release built into one layout, and what to push where."""

    layout: OciLayout
    upstream: str
    releases: list[BuiltRelease]
    model: GraphModel
    pushes: list[tuple[str, str]] = field(default_factory=list)
    """(layout ref, destination ``repo:tag``) — each distinct image once."""
    build_seconds: float = 0.0

    @property
    def total_bytes(self) -> int:
        return self.layout.total_blob_bytes()


def _changes(name: str, version: str, previous_version: str | None, zstream_percent: int = 35) -> bool:
    """Whether component ``name`` gets a new image in ``version`` (deterministic, z-streams keep most:
    ``zstream_percent`` of the components are rebuilt in a z-stream, 90 % in a new minor)."""
    if previous_version is None or name == "cluster-version-operator":
        return True
    same_minor = minor_of(version) == minor_of(previous_version)
    threshold = zstream_percent if same_minor else 90
    return _seed("changes", name, version) % 100 < threshold


def _base_layers(layout: OciLayout, seed: str, size: int, level: int) -> list[Layer]:
    rhel = int(size * 2 / 3)
    ocp = size - rhel
    os_release = (
        b'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\nVERSION_ID="9.4"\n'
        b'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow) (ocp-airgap sandbox imitation)"\n'
    )
    return [
        layout.add_layer(
            f"base-rhel:{seed}:{rhel}",
            [
                FileSpec("etc/os-release", os_release),
                FileSpec(
                    "usr/lib64/libsandbox-rhel-base.so", random_size=rhel, random_seed=_seed(seed, "rhel")
                ),
            ],
            compresslevel=level,
        ),
        layout.add_layer(
            f"base-ocp:{seed}:{ocp}",
            [
                FileSpec("etc/openshift/base-image", b"openshift/base-rhel9 (ocp-airgap sandbox)\n"),
                FileSpec(
                    "usr/lib64/libsandbox-openshift-base.so", random_size=ocp, random_seed=_seed(seed, "ocp")
                ),
            ],
            compresslevel=level,
        ),
    ]


def _labels_for(name: str, version: str) -> dict[str, str]:
    commit = hashlib.sha1(f"{name}@{version}".encode()).hexdigest()  # noqa: S324 - an imitation commit id
    labels = {
        "io.openshift.build.commit.id": commit,
        "io.openshift.build.commit.url": f"https://github.com/openshift/{name}/commit/{commit}",
        "io.openshift.build.source-location": f"https://github.com/openshift/{name}",
        "io.openshift.maintainer.product": "OpenShift Container Platform",
        "io.openshift.release.operator": "true" if name.endswith("-operator") else "false",
        "vendor": "Red Hat, Inc. (imitated by ocp-airgap sandbox)",
        "version": f"v{version}",
    }
    if name == "hyperkube":
        labels["io.openshift.build.versions"] = "kubernetes=1.29.10"
    if name == "rhel-coreos":
        labels["io.openshift.build.versions"] = "machine-os=416.94.202410211619-0"
    return labels


def _image_references(version: str, components: Mapping[str, ComponentImage], upstream: str) -> bytes:
    tags = []
    for name, comp in components.items():
        labels = _labels_for(name, comp.built_for)
        annotations = {k: v for k, v in labels.items() if k.startswith("io.openshift.build.")}
        tags.append(
            {
                "name": name,
                "annotations": annotations,
                "from": {"kind": "DockerImage", "name": f"{upstream}/{COMPONENT_REPO}@{comp.digest}"},
                "generation": None,
                "importPolicy": {},
                "referencePolicy": {"type": ""},
            }
        )
    stream = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {
            "name": version,
            "creationTimestamp": None,
            "annotations": {
                "release.openshift.io/from-image-stream": f"ocp/{minor_of(version)}-art-latest",
                "release.openshift.io/from-release": f"registry.ci.openshift.org/ocp/release:{version}",
            },
        },
        "spec": {"lookupPolicy": {"local": False}, "tags": tags},
        "status": {"dockerImageRepository": ""},
    }
    return (json.dumps(stream, indent=2) + "\n").encode()


def _release_metadata(version: str, model: GraphModel) -> bytes:
    node = model.node(version)
    doc = {
        "kind": "cincinnati-metadata-v0",
        "version": version,
        "previous": model.previous(version),
        "metadata": {
            "url": errata_url(version),
            "io.openshift.upgrades.graph.release.channels": ",".join(node.channels),
        },
    }
    return json.dumps(doc, indent=2).encode()


def _verification_configmap(public_key: str) -> bytes:
    indented = "\n".join("    " + line if line else "" for line in public_key.strip().splitlines())
    return (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: release-verification\n"
        "  namespace: openshift-config-managed\n"
        "  annotations:\n"
        '    include.release.openshift.io/self-managed-high-availability: "true"\n'
        '    include.release.openshift.io/single-node-developer: "true"\n'
        '    release.openshift.io/verification-config-map: ""\n'
        "data:\n"
        "  store-openshift-official-release-mirror: "
        "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release\n"
        "  verifier-public-key-sandbox: |\n"
        f"{indented}\n"
    ).encode()


def _cvo_manifests(version: str, release_ref: str) -> list[FileSpec]:
    ns = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: openshift-cluster-version\n"
        '  annotations:\n    include.release.openshift.io/self-managed-high-availability: "true"\n'
        '  labels:\n    openshift.io/cluster-monitoring: "true"\n'
    )
    deploy = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cluster-version-operator\n"
        "  namespace: openshift-cluster-version\nspec:\n  selector:\n    matchLabels:\n"
        "      k8s-app: cluster-version-operator\n  template:\n    metadata:\n      labels:\n"
        "        k8s-app: cluster-version-operator\n    spec:\n      containers:\n"
        "      - name: cluster-version-operator\n"
        "        image: '{{.ReleaseImage}}'\n"
        "        args: [start, --release-image={{.ReleaseImage}}, --enable-auto-update=false]\n"
    )
    cv = (
        "apiVersion: config.openshift.io/v1\nkind: ClusterVersion\nmetadata:\n  name: version\n"
        "spec:\n  channel: stable-" + minor_of(version) + "\n"
    )
    return [
        FileSpec("manifests/0000_00_cluster-version-operator_00_namespace.yaml", ns.encode()),
        FileSpec("manifests/0000_00_cluster-version-operator_03_deployment.yaml", deploy.encode()),
        FileSpec("manifests/0000_00_cluster-version-operator_04_clusterversion.yaml", cv.encode()),
        FileSpec("manifests/image-source", f"{release_ref}\n".encode()),
    ]


def _operator_manifests(version: str, names: Iterable[str]) -> list[FileSpec]:
    out = []
    for i, name in enumerate(n for n in names if n.endswith("-operator")):
        if i >= 8:
            break
        co = name.removeprefix("cluster-").removesuffix("-operator")
        body = (
            "apiVersion: config.openshift.io/v1\nkind: ClusterOperator\nmetadata:\n"
            f'  name: {co}\n  annotations:\n    include.release.openshift.io/self-managed-high-availability: "true"\n'
            f'status:\n  versions:\n  - name: operator\n    version: "{version}"\n'
        )
        out.append(FileSpec(f"release-manifests/0000_50_{name}_07_clusteroperator.yaml", body.encode()))
    return out


def build_releases(
    layout_dir: str | Path,
    *,
    upstream: str,
    versions: Sequence[str] = ("4.16.18", "4.16.20", "4.17.3"),
    extra_versions: Mapping[str, bool] | None = None,
    components: int = 24,
    size_mb: float = 20.0,
    public_key: str = "",
    architecture: str = "amd64",
    seed: str = "ocp-airgap-sandbox",
    big_layer_mb: float = 0.0,
    compresslevel: int | None = None,
    zstream_change_percent: int = 35,
) -> ReleaseSet:
    """Build every release of ``versions`` into one OCI layout; nothing is pushed yet.

    ``zstream_change_percent``: the share of component images rebuilt from one z-stream to the next (benchmarks
    of releases that share most layers set it low).

    ``upstream`` is the registry host:port that plays quay.io (component references point there).
    ``size_mb`` is the approximate total of all distinct blobs; ``big_layer_mb`` adds one layer of that size
    to ``rhel-coreos`` (or the last component) of the newest version, for benchmarks.
    ``public_key`` (armored) goes into the release-verification ConfigMap manifest."""
    started = time.monotonic()
    versions = sorted(dict.fromkeys(versions), key=parse_version)
    if not versions:
        raise ValueError("at least one version is needed")
    if components < 1:
        raise ValueError("at least one component is needed")
    names = component_names(components)
    model = build_model(versions, extra_versions)
    layout = OciLayout(layout_dir)
    arch_tag = ARCH_TAG.get(architecture, architecture)

    # which component images are new in which version
    introduced: list[dict[str, str]] = []  # per version: component -> version that built its image
    prev: str | None = None
    for v in versions:
        current = {}
        for n in names:
            if prev is None or _changes(n, v, prev, zstream_change_percent):
                current[n] = v
            else:
                current[n] = introduced[-1][n]
        introduced.append(current)
        prev = v
    distinct = {(n, bv) for cur in introduced for n, bv in cur.items()}

    budget = max(int(size_mb * MiB), 64 * 1024)
    base_size = int(budget * 0.3)
    own_size = max(int((budget - base_size) / max(len(distinct), 1)), 1024)
    if compresslevel is None:
        compresslevel = 1 if budget + big_layer_mb * MiB <= 256 * MiB else 0
    base = _base_layers(layout, seed, base_size, compresslevel)

    images: dict[tuple[str, str], ComponentImage] = {}
    own_layers: dict[tuple[str, str], Layer] = {}
    pushes: list[tuple[str, str]] = []
    releases: list[BuiltRelease] = []
    for v, current in zip(versions, introduced, strict=True):
        comps: dict[str, ComponentImage] = {}
        for n in names:
            bv = current[n]
            key = (n, bv)
            if key not in images:
                files = [
                    FileSpec(
                        f"usr/bin/{n}", random_size=own_size, random_seed=_seed(seed, n, bv), mode=0o755
                    ),
                    FileSpec(
                        f"usr/share/{n}/build-info.json", json.dumps({"component": n, "version": bv}).encode()
                    ),
                ]
                own_layers[key] = layout.add_layer(
                    f"own:{seed}:{n}:{bv}:{own_size}", files, compresslevel=compresslevel
                )
                layers = [*base, own_layers[key]]
                big = (
                    big_layer_mb > 0
                    and v == versions[-1]
                    and n == ("rhel-coreos" if "rhel-coreos" in names else names[-1])
                )
                if big:
                    layers.append(
                        layout.add_layer(
                            f"big:{seed}:{n}:{bv}:{big_layer_mb}",
                            [
                                FileSpec(
                                    "usr/share/rhel-coreos/disk.img",
                                    random_size=int(big_layer_mb * MiB),
                                    random_seed=_seed(seed, "big", n, bv),
                                )
                            ],
                            compresslevel=0,
                        )
                    )
                m = layout.add_image(
                    layers,
                    labels=_labels_for(n, bv),
                    architecture=architecture,
                    created=_created(bv),
                    entrypoint=[f"/usr/bin/{n}"],
                )
                ref = f"{bv}-{arch_tag}-{n}"
                layout.tag(ref, m)
                own = sum(layer.size for layer in layers[len(base) :])
                images[key] = ComponentImage(n, m.digest, own, ref, bv)
                pushes.append((ref, f"{COMPONENT_REPO}:{ref}"))
            comps[n] = images[key]

        tag = f"{v}-{arch_tag}"
        release_ref = f"{upstream}/{RELEASE_REPO}:{tag}"
        payload_files = [
            FileSpec("release-manifests/release-metadata", _release_metadata(v, model)),
            FileSpec("release-manifests/image-references", _image_references(v, comps, upstream)),
            *_operator_manifests(v, names),
            *_cvo_manifests(v, release_ref),
        ]
        if public_key:
            payload_files.append(
                FileSpec(
                    "release-manifests/0000_90_cluster-update-keys_configmap.yaml",
                    _verification_configmap(public_key),
                )
            )
        payload_layer = layout.add_layer(f"payload:{seed}:{v}:{upstream}", payload_files, compresslevel=9)
        cvo = comps.get("cluster-version-operator")
        cvo_layers = [own_layers[(cvo.name, cvo.built_for)]] if cvo else []
        layers = [*base, *cvo_layers, payload_layer]
        labels = {
            "io.openshift.release": v,
            "io.openshift.release.base-image-digest": cvo.digest if cvo else "",
            "io.openshift.maintainer.product": "OpenShift Container Platform",
            "vendor": "Red Hat, Inc. (imitated by ocp-airgap sandbox)",
        }
        m = layout.add_image(
            layers,
            labels=labels,
            architecture=architecture,
            created=_created(v),
            entrypoint=["/usr/bin/cluster-version-operator"],
        )
        layout.tag(tag, m)
        pushes.append((tag, f"{RELEASE_REPO}:{tag}"))
        size = m.size + sum(layer.size for layer in layers) + sum(c.size for c in comps.values())
        releases.append(
            BuiltRelease(
                version=v,
                architecture=arch_tag,
                digest=m.digest,
                tag=tag,
                components=comps,
                channels=channels_for(v),
                previous=model.previous(v),
                size=size,
            )
        )
    layout.write_index()
    return ReleaseSet(layout, upstream, releases, model, pushes, time.monotonic() - started)


def build_release(layout_dir: str | Path, version: str, *, upstream: str, **kw: Any) -> BuiltRelease:
    """One release alone (benchmarks: ``components=190, size_mb=2048`` or ``big_layer_mb=1024``)."""
    kw.setdefault("extra_versions", {})
    rs = build_releases(layout_dir, upstream=upstream, versions=[version], **kw)
    return rs.releases[0]


def _created(version: str) -> str:
    _, minor, patch = parse_version(version)
    day = 1 + patch % 28
    month = 1 + minor % 12
    return f"2024-{month:02d}-{day:02d}T00:00:00Z"


# ----- pushing ---------------------------------------------------------------------------------------------
def skopeo_binary() -> str:
    found = shutil.which("skopeo")
    if not found:
        raise SandboxError(
            "the skopeo program is not installed",
            fix="Install it: apt-get install -y --no-install-recommends skopeo",
        )
    return found


def push_layout(
    layout_dir: str | Path,
    pushes: Sequence[tuple[str, str]],
    registry: str,
    *,
    authfile: str | Path | None = None,
    cert_dir: str | Path | None = None,
    jobs: int = 4,
    timeout: float = 600.0,
    on_done: Callable[[str], None] | None = None,
) -> float:
    """``skopeo copy oci:<layout>:<ref> docker://<registry>/<repo:tag>`` for every push, ``jobs`` at a time.

    Release images go last so a release only appears once all its components are there. Returns seconds."""
    started = time.monotonic()
    skopeo = skopeo_binary()
    layout_dir = Path(layout_dir).absolute()
    releases = [p for p in pushes if p[1].startswith(RELEASE_REPO + ":")]
    others = [p for p in pushes if p not in releases]

    def copy(item: tuple[str, str]) -> None:
        ref, dest = item
        argv = [skopeo, "copy", "--quiet", "--retry-times", "2"]
        if authfile:
            argv += ["--dest-authfile", str(authfile)]
        if cert_dir:
            argv += ["--dest-cert-dir", str(cert_dir)]
        else:
            argv += ["--dest-tls-verify=false"]
        argv += [f"oci:{layout_dir}:{ref}", f"docker://{registry}/{dest}"]
        for attempt in range(3):
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
            # distribution 2.8 can answer 500 while another upload links the same blob into the same repository
            if proc.returncode == 0 or "500 (Internal Server Error)" not in proc.stderr or attempt == 2:
                break
            time.sleep(0.2 * (attempt + 1))
        if proc.returncode != 0:
            raise SandboxError(
                f"skopeo copy of {ref} to {registry}/{dest} failed: {proc.stderr.strip()[-2000:]}"
            )
        if on_done:
            on_done(dest)

    # One image alone first in each repository, so the shared base layers are uploaded and linked once and
    # not by every worker at the same time (distribution 2.8 races on concurrent links of one blob).
    for group in (others, releases):
        for item in group[:1]:
            copy(item)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(copy, group[1:]))
    return time.monotonic() - started
