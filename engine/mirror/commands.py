"""The documented ``oc`` commands for mirroring a release (docs/mirroring.md), built from a plan.

Used twice: the built-in engine shows them as the equivalent of what it does, and the ``oc`` backend runs them.
"""

from __future__ import annotations

from engine.plan import Plan

MEDIA_REPOSITORY = "openshift/release"


def auth_arg(plan: Plan) -> str:
    return plan.resolve_path(plan.auth_file) if plan.auth_file else "${LOCAL_SECRET_JSON}"


def release_mirror_direct(plan: Plan, *, dry_run: bool = False, apply_signature: bool = True) -> list[str]:
    """``oc adm release mirror -a AUTH --from=SRC:TAG --to=REG/REPO [--apply-release-image-signature]`` (§D.3)."""
    argv = [
        "oc",
        "adm",
        "release",
        "mirror",
        "-a",
        auth_arg(plan),
        f"--from={plan.source_pullspec}",
        f"--to={plan.mirror_repository}",
        f"--to-release-image={plan.mirror_repository}:{plan.release_tag}",
    ]
    if apply_signature and not dry_run:
        argv.append("--apply-release-image-signature")
    if dry_run:
        argv.append("--dry-run")
    return argv


def release_mirror_to_dir(plan: Plan, media_dir: str, *, dry_run: bool = False) -> list[str]:
    """``oc adm release mirror -a AUTH --to-dir=DIR SRC:TAG`` (§D.1, §D.2.1)."""
    argv = [
        "oc",
        "adm",
        "release",
        "mirror",
        "-a",
        auth_arg(plan),
        f"--to-dir={media_dir}",
        plan.source_pullspec,
    ]
    if dry_run:
        argv.append("--dry-run")
    return argv


def image_mirror_from_dir(
    plan: Plan, media_dir: str, version: str = "", *, dry_run: bool = False
) -> list[str]:
    """``oc image mirror -a AUTH --from-dir=DIR "file://openshift/release:VER*" REG/REPO`` (§D.2.2)."""
    argv = [
        "oc",
        "image",
        "mirror",
        "-a",
        auth_arg(plan),
        f"--from-dir={media_dir}",
        f"file://{MEDIA_REPOSITORY}:{version or plan.release.version}*",
        plan.mirror_repository,
    ]
    if dry_run:
        argv.append("--dry-run")
    return argv


def image_mirror_osus(plan: Plan, *, dry_run: bool = False) -> list[str]:
    """The OSUS copy of the release image to its own repository (§D.2.4)."""
    argv = [
        "oc",
        "image",
        "mirror",
        "-a",
        auth_arg(plan),
        f"{plan.mirror_repository}:{plan.release_tag}",
        f"{plan.mirror.registry}/{plan.mirror.release_images_repository}:{plan.release_tag}",
    ]
    if dry_run:
        argv.append("--dry-run")
    return argv


def image_mirror_signature(
    plan: Plan, digest: str, *, mode: str = "direct", media_dir: str = "", dry_run: bool = False
) -> list[str]:
    """The separate copy of the release's Sigstore signature tag ``sha256-<hex>.sig``, which
    ``oc adm release mirror`` leaves behind (OCPBUGS-70297) and ``oc image mirror`` copies as any tag."""
    algo, _, hexpart = digest.partition(":")
    tag = f"{algo}-{hexpart}.sig"
    argv = ["oc", "image", "mirror", "-a", auth_arg(plan)]
    source = f"{plan.endpoints.release_source}:{tag}"
    if mode == "to-media":
        argv += [f"--dir={media_dir}", source, f"file://{MEDIA_REPOSITORY}:{tag}"]
    elif mode == "from-media":
        argv += [
            f"--from-dir={media_dir}",
            f"file://{MEDIA_REPOSITORY}:{tag}",
            f"{plan.mirror_repository}:{tag}",
        ]
    else:
        argv += [source, f"{plan.mirror_repository}:{tag}"]
    if dry_run:
        argv.append("--dry-run")
    return argv


def release_info(plan: Plan, pullspec: str) -> list[str]:
    return ["oc", "adm", "release", "info", "-a", auth_arg(plan), pullspec]


__all__ = [
    "MEDIA_REPOSITORY",
    "auth_arg",
    "image_mirror_from_dir",
    "image_mirror_osus",
    "image_mirror_signature",
    "release_info",
    "release_mirror_direct",
    "release_mirror_to_dir",
]
