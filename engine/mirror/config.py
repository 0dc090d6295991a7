"""The mirror configuration ``oc adm release mirror`` prints and writes: ImageContentSourcePolicy and
ImageDigestMirrorSet for the mirrored release, and the instructions text.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.context import Context
from engine.fsutil import atomic_write_text
from engine.journal import state_root
from engine.oci.payload import ReleaseInfo
from engine.plan import Plan


# ----- mirror configuration output ---------------------------------------------------------------------
def mirror_sources(plan: Plan, info: ReleaseInfo) -> list[str]:
    """Source repositories for ICSP/IDMS: the release repository plus every repository in image-references
    (and the plan's component source), sorted, deduplicated."""
    out = {plan.endpoints.release_source}
    out.update(info.component_repositories())
    if info.components:
        out.add(plan.endpoints.component_source)
    return sorted(out)


def _mirror_entries(mirror: str, sources: list[str], indent: str) -> str:
    lines = []
    for src in sources:
        lines += [f"{indent}- mirrors:", f"{indent}  - {mirror}", f"{indent}  source: {src}"]
    return "\n".join(lines) + "\n"


def icsp_yaml(mirror: str, sources: list[str], name: str = "example") -> str:
    return (
        "apiVersion: operator.openshift.io/v1alpha1\n"
        "kind: ImageContentSourcePolicy\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        "  repositoryDigestMirrors:\n" + _mirror_entries(mirror, sources, "  ")
    )


def idms_yaml(mirror: str, sources: list[str], name: str = "example") -> str:
    return (
        "apiVersion: config.openshift.io/v1\n"
        "kind: ImageDigestMirrorSet\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        "  imageDigestMirrors:\n" + _mirror_entries(mirror, sources, "  ")
    )


def icsp_instructions(mirror: str, sources: list[str]) -> str:
    """The text ``oc adm release mirror`` prints (``--print-mirror-instructions=icsp``)."""
    return (
        "To use the new mirrored repository to install, add the following section to the install-config.yaml:\n\n"
        "imageContentSources:\n" + _mirror_entries(mirror, sources, "") + "\n"
        "To use the new mirrored repository for upgrades, use the following to create an "
        "ImageContentSourcePolicy:\n\n" + icsp_yaml(mirror, sources)
    )


def idms_instructions(mirror: str, sources: list[str]) -> str:
    """The text ``oc adm release mirror --print-mirror-instructions=idms`` prints."""
    return (
        "To use the new mirrored repository to install, add the following section to the install-config.yaml:\n\n"
        "imageDigestSources:\n" + _mirror_entries(mirror, sources, "") + "\n"
        "To use the new mirrored repository for upgrades, use the following to create an "
        "ImageDigestMirrorSet:\n\n" + idms_yaml(mirror, sources)
    )


def output_dir(plan: Plan, info: ReleaseInfo, explicit: str = "") -> Path:
    if explicit:
        return Path(explicit)
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{plan.mirror.registry}_{plan.mirror.repository}")
    return state_root() / "mirror" / "output" / key / info.tag


def write_mirror_config(ctx: Context, info: ReleaseInfo, directory: Path) -> dict[str, str]:
    """Write icsp/idms files and the instructions text; show the IDMS. Returns {name: path}."""
    plan = ctx.plan
    mirror = plan.mirror_repository
    sources = mirror_sources(plan, info)
    files = {
        "imagecontentsourcepolicy": directory / "imagecontentsourcepolicy.yaml",
        "imagedigestmirrorset": directory / "imagedigestmirrorset.yaml",
        "instructions": directory / "mirror-instructions.txt",
    }
    atomic_write_text(files["imagecontentsourcepolicy"], icsp_yaml(mirror, sources), mode=0o644)
    atomic_write_text(files["imagedigestmirrorset"], idms_yaml(mirror, sources), mode=0o644)
    text = (
        f"Success\nUpdate image:  {mirror}:{info.tag}\nMirror prefix: {mirror}\n\n"
        + idms_instructions(mirror, sources)
        + "\n"
        + icsp_instructions(mirror, sources)
    )
    atomic_write_text(files["instructions"], text, mode=0o644)
    ctx.emit.info(f"Update image:  {mirror}@{info.digest}")
    ctx.emit.info(f"Mirror configuration written to {directory}:")
    for line in idms_yaml(mirror, sources).splitlines():
        ctx.emit.info("  " + line)
    return {k: str(v) for k, v in files.items()}
