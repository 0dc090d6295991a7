"""The lab's operator content: a real file-based-catalog index image, bundle images and operator images, built as
an OCI layout and pushed with skopeo into the upstream registry (as ``registry.redhat.io`` serves them).

Written from the real formats, not from the engine:

- The catalog (operator-framework/operator-registry ``alpha/declcfg``): one directory per package under
  ``/configs``, each with a ``catalog.json`` stream of ``olm.package``, ``olm.channel`` (entries with
  ``replaces``/``skips``/``skipRange``) and ``olm.bundle`` objects (properties ``olm.package``, ``olm.gvk``,
  ``olm.package.required``, ``olm.csv.metadata``; ``relatedImages``). As ``opm render`` does, a CSV's
  ``olm.properties`` annotation (where operator authors declare ``olm.maxOpenShiftVersion``) also becomes a
  bundle property.
- The index image (operator-registry ``docs/design/opm-tooling.md``, the Dockerfile ``opm generate dockerfile``
  writes): the ``opm`` base image, ``/configs`` with label ``operators.operatorframework.io.index.configs.v1=/configs``,
  ``ENTRYPOINT ["/bin/opm"]``, ``CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]`` and a pre-built cache in
  ``/tmp/cache`` (``RUN opm serve /configs --cache-dir=/tmp/cache --cache-only``).
- Bundle images (operator-registry ``docs/design/operator-bundle.md``): ``/manifests/<csv>.yaml`` and
  ``/metadata/annotations.yaml`` with the ``operators.operatorframework.io.bundle.*`` labels.

The content: ``cluster-logging`` (installed at 5.8.1 from channel ``stable-5.8``, whose CSVs say
``olm.maxOpenShiftVersion: "4.16"``; channel ``stable-5.9`` continues it without that limit and requires
``loki-operator``), ``loki-operator`` (only a dependency), ``openshift-pipelines-operator-rh`` (installed, no
limit; one related image referenced by tag) and ``kiali-ossm`` (not installed). Two broken variants of the index
(``…-broken-heads``: a channel with two heads; ``…-broken-deps``: a required package missing) let tests check that
a broken catalog is refused before anything is mirrored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.releases import OCI_CONFIG, OCI_MANIFEST, FileSpec, Layer, OciLayout, _seed

INDEX_REPO = "redhat/redhat-operator-index"
OPERATOR_PREFIX = "sandbox-operators"
CONFIGS_LABEL = "operators.operatorframework.io.index.configs.v1"
KiB = 1024


@dataclass
class BundleSpec:
    package: str
    version: str
    replaces: str = ""
    skips: tuple[str, ...] = ()
    skip_range: str = ""
    max_ocp: str = ""
    requires: tuple[tuple[str, str], ...] = ()
    channels: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.package}.v{self.version}"


@dataclass
class PackageSpec:
    name: str
    default_channel: str
    bundles: list[BundleSpec]
    tag_related: str = ""
    """A related image referenced by tag (not digest)."""


PACKAGES: list[PackageSpec] = [
    PackageSpec(
        "cluster-logging",
        "stable-5.9",
        [
            BundleSpec("cluster-logging", "5.8.0", max_ocp="4.16", channels=("stable-5.8",)),
            BundleSpec(
                "cluster-logging",
                "5.8.1",
                replaces="cluster-logging.v5.8.0",
                max_ocp="4.16",
                channels=("stable-5.8",),
            ),
            BundleSpec(
                "cluster-logging",
                "5.9.0",
                replaces="cluster-logging.v5.8.1",
                skip_range=">=5.8.0 <5.9.0",
                requires=(("loki-operator", ">=5.9.0 <6.0.0"),),
                channels=("stable-5.9",),
            ),
            BundleSpec(
                "cluster-logging",
                "5.9.1",
                replaces="cluster-logging.v5.9.0",
                requires=(("loki-operator", ">=5.9.0 <6.0.0"),),
                channels=("stable-5.9",),
            ),
        ],
    ),
    PackageSpec(
        "loki-operator",
        "stable-5.9",
        [
            BundleSpec("loki-operator", "5.9.0", channels=("stable-5.9",)),
            BundleSpec("loki-operator", "5.9.1", replaces="loki-operator.v5.9.0", channels=("stable-5.9",)),
        ],
    ),
    PackageSpec(
        "openshift-pipelines-operator-rh",
        "latest",
        [
            BundleSpec("openshift-pipelines-operator-rh", "1.14.0", channels=("latest", "pipelines-1.14")),
            BundleSpec(
                "openshift-pipelines-operator-rh",
                "1.14.1",
                replaces="openshift-pipelines-operator-rh.v1.14.0",
                channels=("latest", "pipelines-1.14"),
            ),
            BundleSpec(
                "openshift-pipelines-operator-rh",
                "1.15.0",
                replaces="openshift-pipelines-operator-rh.v1.14.1",
                skips=("openshift-pipelines-operator-rh.v1.14.0",),
                max_ocp="4.18",
                channels=("latest",),
            ),
        ],
        tag_related="pipelines-console-plugin-rhel9:v1.14",
    ),
    PackageSpec(
        "kiali-ossm",
        "stable",
        [
            BundleSpec("kiali-ossm", "1.73.0", channels=("stable",)),
            BundleSpec("kiali-ossm", "1.73.4", replaces="kiali-ossm.v1.73.0", channels=("stable",)),
        ],
    ),
]

INSTALLED: list[tuple[str, str, str, str]] = [
    # (package, version, channel, namespace): what the cluster runs (installed from redhat-operators)
    ("cluster-logging", "5.8.1", "stable-5.8", "openshift-logging"),
    ("openshift-pipelines-operator-rh", "1.14.1", "latest", "openshift-operators"),
]


@dataclass
class BuiltCatalog:
    index_ref: str
    """``<upstream>/redhat/redhat-operator-index:v<minor>``."""
    index_digest: str
    broken: dict[str, str]
    """variant → pull spec (by tag)."""
    pushes: list[tuple[str, str]]
    olm: dict[str, Any]
    """What the simulated API server needs (installed CSVs/Subscriptions, the default sources)."""
    bundles: dict[str, str] = field(default_factory=dict)
    """bundle name → image by digest."""


def _csv_annotations(b: BundleSpec) -> dict[str, str]:
    ann = {
        "operators.operatorframework.io/builder": "operator-sdk-v1.34.1",
        "capabilities": "Seamless Upgrades",
    }
    if b.max_ocp:
        ann["olm.properties"] = json.dumps([{"type": "olm.maxOpenShiftVersion", "value": b.max_ocp}])
    return ann


def _kind(package: str) -> str:
    return "".join(p.capitalize() for p in package.split("-")[:2])


def _image(layout: OciLayout, layers: list[Layer], config: dict[str, Any]) -> tuple[str, int]:
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-06-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    cb = layout.put_json(cfg, OCI_CONFIG)
    mb = layout.put_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": cb.descriptor(),
            "layers": [layer.descriptor() for layer in layers],
        },
        OCI_MANIFEST,
    )
    return mb.digest, mb.size


def build_catalog(
    layout_dir: str | Path, *, upstream: str, minor: str, current_minor: str, blocking_operator: bool = False
) -> BuiltCatalog:
    """The catalog for the target ``minor``; ``blocking_operator``: cluster-logging 5.8.1 is installed too."""
    layout = OciLayout(layout_dir)
    pushes: list[tuple[str, str]] = []
    base = layout.add_layer(
        "ubi-minimal",
        [
            FileSpec("usr/lib/os-release", b'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.4"\n'),
            FileSpec("usr/lib64/libfake.so", random_size=256 * KiB, random_seed=_seed("ubi")),
        ],
    )

    def push(ref: str, digest: str, size: int, dest: str) -> None:
        from sandbox.releases import Blob

        layout.tag(ref, Blob(digest, size, OCI_MANIFEST))
        pushes.append((ref, dest))

    # operator images (related images, by digest) and one image referenced by tag
    operator_images: dict[tuple[str, str], str] = {}
    for pkg in PACKAGES:
        for b in pkg.bundles:
            repo = f"{OPERATOR_PREFIX}/{pkg.name}-rhel9-operator"
            own = layout.add_layer(
                f"op-{b.name}",
                [FileSpec("usr/bin/manager", random_size=192 * KiB, random_seed=_seed("op", b.name))],
            )
            d, s = _image(
                layout, [base, own], {"Entrypoint": ["/usr/bin/manager"], "Labels": {"version": b.version}}
            )
            push(f"op-{b.name}", d, s, f"{repo}:v{b.version}")
            operator_images[(pkg.name, b.version)] = f"{upstream}/{repo}@{d}"
        if pkg.tag_related:
            own = layout.add_layer(
                f"tag-{pkg.name}",
                [FileSpec("srv/plugin.js", random_size=64 * KiB, random_seed=_seed("tag", pkg.name))],
            )
            d, s = _image(layout, [base, own], {"Labels": {"component": pkg.tag_related}})
            push(f"tag-{pkg.name}", d, s, f"{OPERATOR_PREFIX}/{pkg.tag_related}")

    # bundle images and the FBC objects
    objs_by_pkg: dict[str, list[dict[str, Any]]] = {}
    bundle_refs: dict[str, str] = {}
    for pkg in PACKAGES:
        objs: list[dict[str, Any]] = [
            {
                "schema": "olm.package",
                "name": pkg.name,
                "defaultChannel": pkg.default_channel,
                "description": f"{pkg.name} (ocp-airgap lab)",
            }
        ]
        channels: dict[str, list[dict[str, Any]]] = {}
        for b in pkg.bundles:
            for c in b.channels:
                e: dict[str, Any] = {"name": b.name}
                if b.replaces:
                    e["replaces"] = b.replaces
                if b.skips:
                    e["skips"] = list(b.skips)
                if b.skip_range:
                    e["skipRange"] = b.skip_range
                channels.setdefault(c, []).append(e)
        for c in sorted(channels):
            objs.append({"schema": "olm.channel", "package": pkg.name, "name": c, "entries": channels[c]})
        for b in pkg.bundles:
            kind = _kind(pkg.name)
            group = f"{pkg.name.split('-')[0]}.openshift.io"
            op_image = operator_images[(pkg.name, b.version)]
            csv = {
                "apiVersion": "operators.coreos.com/v1alpha1",
                "kind": "ClusterServiceVersion",
                "metadata": {
                    "name": b.name,
                    "annotations": {**_csv_annotations(b), "containerImage": op_image},
                },
                "spec": {
                    "version": b.version,
                    "replaces": b.replaces or None,
                    "displayName": pkg.name,
                    "customresourcedefinitions": {
                        "owned": [{"name": f"{kind.lower()}s.{group}", "version": "v1", "kind": kind}]
                    },
                },
            }
            annotations = {
                "annotations": {
                    "operators.operatorframework.io.bundle.mediatype.v1": "registry+v1",
                    "operators.operatorframework.io.bundle.manifests.v1": "manifests/",
                    "operators.operatorframework.io.bundle.metadata.v1": "metadata/",
                    "operators.operatorframework.io.bundle.package.v1": pkg.name,
                    "operators.operatorframework.io.bundle.channels.v1": ",".join(b.channels),
                }
            }
            own = layout.add_layer(
                f"bundle-{b.name}",
                [
                    FileSpec(
                        f"manifests/{pkg.name}.clusterserviceversion.yaml", json.dumps(csv, indent=1).encode()
                    ),
                    FileSpec("metadata/annotations.yaml", json.dumps(annotations, indent=1).encode()),
                ],
            )
            d, s = _image(layout, [own], {"Labels": dict(annotations["annotations"])})
            repo = f"{OPERATOR_PREFIX}/{pkg.name}-operator-bundle"
            push(f"bundle-{b.name}", d, s, f"{repo}:v{b.version}")
            bundle_ref = f"{upstream}/{repo}@{d}"
            bundle_refs[b.name] = bundle_ref
            props: list[dict[str, Any]] = [
                {"type": "olm.package", "value": {"packageName": pkg.name, "version": b.version}},
                {"type": "olm.gvk", "value": {"group": group, "version": "v1", "kind": kind}},
            ]
            for dep, rng in b.requires:
                props.append(
                    {"type": "olm.package.required", "value": {"packageName": dep, "versionRange": rng}}
                )
            if b.max_ocp:
                props.append({"type": "olm.maxOpenShiftVersion", "value": b.max_ocp})
            props.append(
                {
                    "type": "olm.csv.metadata",
                    "value": {"annotations": _csv_annotations(b), "displayName": pkg.name},
                }
            )
            related = [
                {"name": "", "image": bundle_ref},
                {"name": "manager", "image": op_image},
            ]
            if pkg.tag_related:
                related.append(
                    {"name": "console-plugin", "image": f"{upstream}/{OPERATOR_PREFIX}/{pkg.tag_related}"}
                )
            objs.append(
                {
                    "schema": "olm.bundle",
                    "name": b.name,
                    "package": pkg.name,
                    "image": bundle_ref,
                    "properties": props,
                    "relatedImages": related,
                }
            )
        objs_by_pkg[pkg.name] = objs

    def configs_files(objs_by: dict[str, list[dict[str, Any]]]) -> list[FileSpec]:
        return [
            FileSpec(
                f"configs/{name}/catalog.json",
                b"".join(json.dumps(o, indent=4).encode() + b"\n" for o in objs),
            )
            for name, objs in sorted(objs_by.items())
        ]

    opm = layout.add_layer(
        "opm-base",
        [
            FileSpec("bin/opm", random_size=512 * KiB, random_seed=_seed("opm"), mode=0o755),
            FileSpec("bin/grpc_health_probe", random_size=64 * KiB, random_seed=_seed("probe"), mode=0o755),
        ],
    )
    index_config = {
        "Entrypoint": ["/bin/opm"],
        "Cmd": ["serve", "/configs", "--cache-dir=/tmp/cache"],
        "Labels": {CONFIGS_LABEL: "/configs", "io.openshift.release": minor},
    }

    def index(key: str, objs_by: dict[str, list[dict[str, Any]]]) -> tuple[str, int]:
        configs = layout.add_layer(f"configs-{key}", configs_files(objs_by))
        # opm serve --cache-only writes a pogreb cache whose digest covers /configs
        import hashlib

        digest = hashlib.sha256(json.dumps(objs_by, sort_keys=True).encode()).hexdigest()[:16]
        cache = layout.add_layer(
            f"cache-{key}",
            [
                FileSpec("tmp/cache/pogreb.v1/digest", digest.encode()),
                FileSpec(
                    "tmp/cache/pogreb.v1/db/main.pix", random_size=32 * KiB, random_seed=_seed("cache", key)
                ),
            ],
        )
        return _image(layout, [base, opm, configs, cache], index_config)

    d, s = index("good", objs_by_pkg)
    tag = f"v{minor}"
    push(f"index-{tag}", d, s, f"{INDEX_REPO}:{tag}")
    index_digest = d

    broken: dict[str, str] = {}
    # two heads: a second 5.9.x entry that nothing replaces and that replaces nothing in stable-5.9
    heads = json.loads(json.dumps(objs_by_pkg))
    for o in heads["cluster-logging"]:
        if o["schema"] == "olm.channel" and o["name"] == "stable-5.9":
            o["entries"].append({"name": "cluster-logging.v5.8.0"})
    d, s = index("broken-heads", heads)
    push("index-broken-heads", d, s, f"{INDEX_REPO}:{tag}-broken-heads")
    broken["heads"] = f"{upstream}/{INDEX_REPO}:{tag}-broken-heads"
    # missing dependency: loki-operator left out
    deps = {k: v for k, v in objs_by_pkg.items() if k != "loki-operator"}
    d, s = index("broken-deps", deps)
    push("index-broken-deps", d, s, f"{INDEX_REPO}:{tag}-broken-deps")
    broken["deps"] = f"{upstream}/{INDEX_REPO}:{tag}-broken-deps"
    layout.write_index()

    installed = []
    for package, version, channel, ns in INSTALLED:
        if package == "cluster-logging" and not blocking_operator:
            continue
        spec = next(b for p in PACKAGES for b in p.bundles if p.name == package and b.version == version)
        installed.append(
            {
                "package": package,
                "version": version,
                "channel": channel,
                "namespace": ns,
                "csv": spec.name,
                "replaces": spec.replaces,
                "annotations": _csv_annotations(spec),
                "bundle_image": bundle_refs[spec.name],
                "source": "redhat-operators",
            }
        )
    olm = {
        "installed": installed,
        # the marketplace operator's defaults directory (openshift/operator-marketplace defaults/*.yaml)
        "default_sources": {
            "redhat-operators": f"registry.redhat.io/redhat/redhat-operator-index:v{current_minor}",
            "certified-operators": f"registry.redhat.io/redhat/certified-operator-index:v{current_minor}",
            "community-operators": f"registry.redhat.io/redhat/community-operator-index:v{current_minor}",
            "redhat-marketplace": f"registry.redhat.io/redhat/redhat-marketplace-index:v{current_minor}",
        },
    }
    return BuiltCatalog(f"{upstream}/{INDEX_REPO}:{tag}", index_digest, broken, pushes, olm, bundle_refs)
