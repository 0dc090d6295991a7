"""The ``oc-mirror`` v2 backend: generate the ImageSetConfiguration for the chosen release, run ``oc-mirror --v2``
in the matching workflow, stream its output, and pick up what it writes under ``working-dir/cluster-resources/``.

Workflows (oc-mirror v2 docs):

- mirror-to-mirror (direct): ``oc-mirror --config ISC --workspace file://WS docker://REG/REPO --v2``
- mirror-to-disk (to media): ``oc-mirror --config ISC file://DIR --v2``
- disk-to-mirror (from media): ``oc-mirror --config ISC --from file://DIR docker://REG/REPO --v2``

The ImageSetConfiguration (``mirror.openshift.io/v2alpha1``) names the platform channel, ``minVersion`` =
``maxVersion`` = the target, the architecture and whether to build the graph-data image (for OSUS).
After a run, ``working-dir/cluster-resources/`` holds the ImageDigestMirrorSet / ImageTagMirrorSet, the release
signature ConfigMap, CatalogSources and the UpdateService: they are read and returned by kind for the later
steps (repository mirroring, signature, catalog).

oc-mirror v2 does not keep ``oc adm release mirror``'s single-repository layout. It pushes the release image to
``<registry>/<repository>/openshift/release-images`` and the components to ``<registry>/<repository>/openshift/release``
(oc-mirror ``v2/internal/pkg/release``: ``releaseImagePathComponents``, ``releaseComponentPathComponents``), and
writes (``v2/internal/pkg/clusterresources``): ``idms-oc-mirror.yaml`` (one or more ImageDigestMirrorSets, e.g.
``idms-release-0``, whose entries map each source repository to where oc-mirror put it), ``itms-oc-mirror.yaml``,
``signature-configmap.json`` / ``.yaml`` (ConfigMap ``mirrored-release-signatures`` in
``openshift-config-managed``, label ``release.openshift.io/verification-signatures``, ``binaryData`` keys
``sha256-<hex>-<n>``), ``cs-*.yaml``, ``cc-*.yaml`` and ``updateService.yaml``. After a run the engine takes the
update target, the mirror set and the signature from those files (:func:`written_layout`), and journals them so
``upgrade``, ``mirror-config`` and ``signature`` use what oc-mirror actually wrote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from engine.context import Context
from engine.errors import AirgapError, InputError, ToolMissing
from engine.events import Level, StepStatus
from engine.fsutil import atomic_write_text
from engine.journal import state_root
from engine.mirror.ocbackend import ca_bundle_env, translate_failure
from engine.plan import Plan
from engine.proc import run_streaming

API_VERSION = "mirror.openshift.io/v2alpha1"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x", "ppc64le": "ppc64le", "multi": "multi"}
WORKFLOWS = {"direct": "mirror-to-mirror", "to-media": "mirror-to-disk", "from-media": "disk-to-mirror"}
ISC_NAME = "imageset-config.yaml"
RELEASE_IMAGES = "openshift/release-images"
"""where oc-mirror v2 puts the release image, under the destination repository"""
RELEASE_COMPONENTS = "openshift/release"
"""where oc-mirror v2 puts the release's component images"""
IDMS_FILE = "idms-oc-mirror.yaml"
SIGNATURE_FILES = ("signature-configmap.json", "signature-configmap.yaml")
_PROGRESS = re.compile(r"(\d+)\s*/\s*(\d+)\s*:?")


def find_oc_mirror() -> str:
    candidate = os.environ.get("OC_MIRROR", "")
    if candidate:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        raise ToolMissing(f"oc-mirror was not found at {candidate}", fix="Correct $OC_MIRROR or unset it.")
    found = shutil.which("oc-mirror")
    if not found:
        raise ToolMissing(
            "oc-mirror is not on PATH",
            fix="Download the oc-mirror plugin of your OpenShift version from the OpenShift mirror and put it on "
            "PATH, or use the built-in backend (--backend builtin).",
        )
    return found


def channel_for(plan: Plan) -> str:
    if plan.release.channel:
        return plan.release.channel
    major_minor = ".".join(plan.release.version.split(".")[:2])
    return f"stable-{major_minor}"


def image_set_config(plan: Plan, *, graph: bool = True) -> dict[str, Any]:
    """The ImageSetConfiguration for the plan's release only (min = max = the target)."""
    plan.require("release.version")
    platform: dict[str, Any] = {
        "channels": [
            {
                "name": channel_for(plan),
                "minVersion": plan.release.version,
                "maxVersion": plan.release.version,
                "type": "ocp",
            }
        ],
        "graph": graph,
    }
    arch = ARCH.get(plan.release.architecture, plan.release.architecture)
    platform["architectures"] = [arch]
    return {"kind": "ImageSetConfiguration", "apiVersion": API_VERSION, "mirror": {"platform": platform}}


def image_set_config_yaml(plan: Plan, *, graph: bool = True) -> str:
    return yaml.safe_dump(image_set_config(plan, graph=graph), sort_keys=False, default_flow_style=False)


def workspace_dir(plan: Plan) -> Path:
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{plan.mirror.registry}_{plan.mirror.repository}")
    return state_root() / "oc-mirror" / key


def build_argv(
    plan: Plan, mode: str, *, isc: str, media: str = "", workspace: str = "", dry_run: bool = False
) -> list[str]:
    """The oc-mirror v2 command line for a workflow (argv[0] is ``oc-mirror``)."""
    argv = ["oc-mirror", "--config", isc]
    dest = f"docker://{plan.mirror_repository}"
    if mode == "direct":
        argv += ["--workspace", f"file://{workspace}", dest]
    elif mode == "to-media":
        argv += [f"file://{media}"]
    elif mode == "from-media":
        argv += ["--from", f"file://{media}", dest]
    else:
        raise InputError(f"unknown mirroring mode {mode!r}", fix="Use direct, to-media or from-media.")
    argv.append("--v2")
    if plan.auth_file:
        argv += ["--authfile", plan.resolve_path(plan.auth_file)]
    if dry_run:
        argv.append("--dry-run")
    return argv


def cluster_resources(directory: Path) -> dict[str, list[str]]:
    """Files under ``working-dir/cluster-resources`` grouped: idms, itms, signature_configmaps,
    catalog_sources, cluster_catalogs, update_services, other."""
    out: dict[str, list[str]] = {
        "idms": [],
        "itms": [],
        "signature_configmaps": [],
        "catalog_sources": [],
        "cluster_catalogs": [],
        "update_services": [],
        "other": [],
    }
    if not directory.is_dir():
        return out
    kinds = {
        "ImageDigestMirrorSet": "idms",
        "ImageTagMirrorSet": "itms",
        "CatalogSource": "catalog_sources",
        "ClusterCatalog": "cluster_catalogs",
        "UpdateService": "update_services",
    }
    for p in sorted(directory.iterdir()):
        if not p.is_file() or p.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            text = p.read_text(encoding="utf-8")
            docs = list(yaml.safe_load_all(text)) if p.suffix != ".json" else [json.loads(text)]
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError):
            out["other"].append(str(p))
            continue
        placed = False
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            items = doc.get("items") if doc.get("kind") == "List" else [doc]
            for item in items or []:
                kind = str(item.get("kind", "")) if isinstance(item, dict) else ""
                if kind in kinds:
                    out[kinds[kind]].append(str(p))
                    placed = True
                elif kind == "ConfigMap":
                    labels = (item.get("metadata") or {}).get("labels") or {}
                    if "release.openshift.io/verification-signatures" in labels:
                        out["signature_configmaps"].append(str(p))
                        placed = True
                if placed:
                    break
            if placed:
                break
        if not placed:
            out["other"].append(str(p))
    return out


def _docs(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"oc-mirror wrote a file that cannot be read: {exc}",
            path=str(path),
            line=(mark.line + 1) if mark else getattr(exc, "lineno", None),
            column=(mark.column + 1) if mark else getattr(exc, "colno", None),
            fix="Run oc-mirror again; if it persists, report it with the file.",
        ) from None
    out: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict):
            items = doc.get("items") if doc.get("kind") == "List" else [doc]
            out += [i for i in items or [] if isinstance(i, dict)]
    return out


def written_layout(directory: Path, plan: Plan) -> dict[str, Any]:
    """What oc-mirror wrote under ``working-dir/cluster-resources`` for the plan's release: the mirror entries of
    its ImageDigestMirrorSets, the repository it put the release image in (``release_repository``, the update
    target is ``<release_repository>@<digest>``), and its signature ConfigMap file ("" when it wrote none)."""
    entries: list[dict[str, Any]] = []
    idms_path = directory / IDMS_FILE
    if idms_path.is_file():
        for doc in _docs(idms_path):
            if doc.get("kind") != "ImageDigestMirrorSet":
                continue
            for e in (doc.get("spec") or {}).get("imageDigestMirrors") or []:
                if e.get("source") and e.get("mirrors"):
                    entries.append({"source": str(e["source"]), "mirrors": [str(m) for m in e["mirrors"]]})
    release_repository = ""
    for e in entries:
        if e["source"] == plan.endpoints.release_source:
            release_repository = e["mirrors"][0]
            break
    signature_file = ""
    for name in SIGNATURE_FILES:
        if (directory / name).is_file():
            signature_file = str(directory / name)
            break
    return {
        "mirror_entries": entries,
        "release_repository": release_repository,
        "default_release_repository": f"{plan.mirror_repository}/{RELEASE_IMAGES}",
        "signature_file": signature_file,
    }


def journaled_layout(ctx: Context, digest: str) -> dict[str, Any] | None:
    """The oc-mirror layout journaled by the last successful oc-mirror run for ``digest`` (None: no such run, or
    no journal)."""
    try:
        records = ctx.journal.records
    except AirgapError:
        return None
    for r in reversed(records):
        if r.step != "mirror" or r.kind != "step-finished" or r.data.get("status") != "succeeded":
            continue
        if r.data.get("backend") != "oc-mirror" or r.data.get("digest") != digest:
            continue
        layout = r.data.get("layout")
        return dict(layout) if isinstance(layout, dict) else None
    return None


def run_oc_mirror(
    ctx: Context, *, to_dir: str = "", from_dir: str = "", dry_run: bool = False, graph: bool = True
) -> dict[str, Any]:
    """Run oc-mirror v2 for the plan's release. Returns {mode, workflow, config, argv, cluster_resources}."""
    from engine.mirror import media_dir

    plan = ctx.plan
    mode = "to-media" if to_dir else "from-media" if from_dir else "direct"
    plan.require("release.version", *(() if mode == "to-media" else ("mirror.registry", "mirror.repository")))
    binary = find_oc_mirror()
    media = media_dir(plan, to_dir or from_dir) if mode != "direct" else ""
    workspace = str(workspace_dir(plan)) if mode == "direct" else ""
    base = Path(media) if media else Path(workspace)
    isc_path = base / ISC_NAME
    if mode == "from-media" and isc_path.is_file():
        ctx.emit.info(f"Using the ImageSetConfiguration carried on the media: {isc_path}")
    else:
        base.mkdir(parents=True, exist_ok=True)
        atomic_write_text(isc_path, image_set_config_yaml(plan, graph=graph), mode=0o644)
        ctx.emit.info(f"ImageSetConfiguration written to {isc_path}")
    argv = build_argv(plan, mode, isc=str(isc_path), media=media, workspace=workspace, dry_run=dry_run)
    ctx.emit.command(argv, note=f"oc-mirror {WORKFLOWS[mode]}")

    def on_line(stream: str, line: str) -> None:
        m = _PROGRESS.search(line)
        if m and int(m.group(2)) > 0 and int(m.group(1)) <= int(m.group(2)):
            ctx.emit.progress(int(m.group(1)), int(m.group(2)), "images", "oc-mirror")
        level = Level.WARNING if re.search(r"\berror\b|\bfail", line, re.I) else Level.INFO
        ctx.emit.log(line, level)

    with ca_bundle_env(plan) as env:
        res = run_streaming([binary, *argv[1:]], on_line=on_line, cancel=ctx.cancel, env=env)
    if not res.ok:
        raise translate_failure("oc-mirror", res)
    resources_dir = base / "working-dir" / "cluster-resources"
    resources = cluster_resources(resources_dir) if mode != "to-media" else {}
    layout: dict[str, Any] = {}
    if resources:
        for kind, paths in resources.items():
            for p in paths:
                ctx.emit.info(f"oc-mirror wrote {kind.replace('_', ' ')}: {p}")
        if resources.get("idms") or resources.get("itms"):
            ctx.emit.command(["oc", "apply", "-f", str(resources_dir)], note="apply the mirror configuration")
        layout = written_layout(resources_dir, plan)
        if not layout["release_repository"]:
            ctx.emit.warning(
                f"oc-mirror's {IDMS_FILE} maps no mirror for {plan.endpoints.release_source}; assuming its layout "
                f"{layout['default_release_repository']}"
            )
            layout["release_repository"] = layout["default_release_repository"]
        if plan.release.digest:
            ctx.emit.info(
                f"The update target is where oc-mirror put the release: "
                f"{layout['release_repository']}@{plan.release.digest}"
            )
    if layout and not dry_run and plan.release.digest:
        _journal_layout(ctx, layout, mode)
    sig: dict[str, Any] = {}
    if mode != "to-media" and not dry_run:
        from engine.sigstore import pick_up_oc_mirror

        sig = pick_up_oc_mirror(ctx, plan.release.digest)
    summary = {
        "layout": layout,
        "sigstore": sig,
        "mode": mode,
        "backend": "oc-mirror",
        "workflow": WORKFLOWS[mode],
        "config": str(isc_path),
        "argv": argv,
        "dry_run": dry_run,
        "cluster_resources_dir": str(resources_dir) if mode != "to-media" else "",
        "cluster_resources": resources,
    }
    ctx.emit.result(
        StepStatus.SUCCEEDED, f"oc-mirror {WORKFLOWS[mode]} of {plan.release.version} finished", summary
    )
    return summary


def _journal_layout(ctx: Context, layout: dict[str, Any], mode: str) -> None:
    """Journal the run with what oc-mirror wrote, for the later steps (a host without the cluster's kubeconfig
    has no journal: then the later steps are told by the files, see docs)."""
    plan = ctx.plan
    try:
        journal = ctx.journal
    except AirgapError as exc:
        ctx.emit.warning(f"not journaled ({exc.message}): the later steps will not know oc-mirror's layout")
        return
    digest = plan.release.digest
    image = f"{layout['release_repository']}@{digest}"
    journal.step_started("mirror", backend="oc-mirror", digest=digest, mode=mode)
    journal.step_finished(
        "mirror",
        "succeeded",
        f"oc-mirror mirrored {plan.release.version} to {image}",
        backend="oc-mirror",
        mode=mode,
        digest=digest,
        image=image,
        layout=layout,
    )


__all__ = [
    "RELEASE_COMPONENTS",
    "RELEASE_IMAGES",
    "journaled_layout",
    "written_layout",
    "API_VERSION",
    "WORKFLOWS",
    "build_argv",
    "channel_for",
    "cluster_resources",
    "find_oc_mirror",
    "image_set_config",
    "image_set_config_yaml",
    "run_oc_mirror",
    "workspace_dir",
]
