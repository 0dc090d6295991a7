"""The ``oc`` backend: the same mirroring operations through ``oc adm release mirror`` / ``oc image mirror``, with
the documented flags (docs/mirroring.md), output streamed live as log lines.

- direct: ``oc adm release mirror -a AUTH --from=SRC:TAG --to=REG/REPO --to-release-image=REG/REPO:TAG
  --apply-release-image-signature`` (the signature goes straight to the cluster; needs the kubeconfig);
- to media: ``oc adm release mirror -a AUTH --to-dir=DIR SRC:TAG`` (oc writes the signature ConfigMap into
  ``DIR/config``), then ocp-airgap adds its checksum manifest so the far side can check the media;
- from media: ``oc image mirror -a AUTH --from-dir=DIR "file://openshift/release:VER*" REG/REPO``;
- OSUS: ``oc image mirror -a AUTH REG/REPO:TAG REG/RELEASE_IMAGES_REPO:TAG``.

CAs: oc (Go) reads ``SSL_CERT_FILE``; the plan's CA files are appended to the system bundle in a temporary
file for the run. The ICSP/IDMS oc prints are captured and written like the built-in engine's.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.context import Context
from engine.errors import AirgapError, RegistryAuthError, RegistryError, RegistryNotFound, TLSError
from engine.events import Level, StepStatus
from engine.fsutil import atomic_write_text
from engine.journal import state_root
from engine.mirror import commands as mirror_commands
from engine.mirror.media import MEDIA_REPOSITORY, write_checksums
from engine.oc import find_oc
from engine.plan import Plan
from engine.proc import ProcResult, run_streaming

SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


def system_ca_bundle() -> str:
    paths = ssl.get_default_verify_paths()
    for cand in (paths.cafile, *SYSTEM_BUNDLES):
        if cand and os.path.isfile(cand):
            return cand
    return ""


@contextlib.contextmanager
def ca_bundle_env(plan: Plan) -> Iterator[dict[str, str]]:
    """``{"SSL_CERT_FILE": bundle}`` with the system CAs plus the plan's CA files, for Go programs."""
    extra = [plan.resolve_path(p) for p in (plan.mirror.ca_file, plan.endpoints.source_ca_file) if p]
    extra = [p for p in extra if os.path.isfile(p)]
    if not extra:
        yield {}
        return
    parts = []
    base = system_ca_bundle()
    if base:
        parts.append(Path(base).read_text(errors="replace"))
    parts += [Path(p).read_text(errors="replace") for p in extra]
    d = state_root() / "tmp"
    d.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="ca-bundle-", suffix=".pem", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(p.rstrip("\n") for p in parts) + "\n")
        yield {"SSL_CERT_FILE": path}
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


_ERROR_HINTS: list[tuple[re.Pattern[str], type[AirgapError], str, str]] = [
    (
        re.compile(r"x509: certificate signed by unknown authority|certificate is not trusted", re.I),
        TLSError,
        "a registry's TLS certificate is signed by a CA this host does not trust",
        "Set mirror.ca_file / endpoints.source_ca_file in the plan to the CA that signed it.",
    ),
    (
        re.compile(r"x509: certificate relies on legacy Common Name|certificate is valid for .* not", re.I),
        TLSError,
        "a registry's TLS certificate has no matching subjectAltName",
        "Reissue the registry certificate with a subjectAltName for its host name.",
    ),
    (
        re.compile(r"x509: certificate has expired", re.I),
        TLSError,
        "a registry's TLS certificate has expired",
        "Renew the registry certificate (and check this host's clock).",
    ),
    (
        re.compile(r"unauthorized|authentication required|401", re.I),
        RegistryAuthError,
        "a registry rejected the credentials (401)",
        "Correct the credentials in the auth file (auth_file in the plan) and run again.",
    ),
    (
        re.compile(r"denied|403", re.I),
        RegistryAuthError,
        "the account may not push to the mirror registry (denied)",
        "Use an account with push rights on the mirror repository.",
    ),
    (
        re.compile(r"manifest unknown|not found", re.I),
        RegistryNotFound,
        "the release or one of its images does not exist (manifest unknown)",
        "Check release.version and release.architecture in the plan.",
    ),
]


def translate_failure(tool: str, res: ProcResult) -> AirgapError:
    """A plain error for a failed oc / oc-mirror run, from its output."""
    text = "\n".join(res.stderr[-40:] + res.stdout[-40:])
    tail = res.tail(3).replace("\n", " | ")
    for pattern, cls, message, fix in _ERROR_HINTS:
        if pattern.search(text):
            return cls(f"{tool} failed: {message} ({tail})", fix=fix)
    return RegistryError(
        f"{tool} exited with status {res.returncode}: {tail or 'no output'}",
        fix="Read the output above for the cause; fix it and run again (oc resumes by skipping what exists).",
    )


def _run(
    ctx: Context, argv: list[str], binary: str, env: dict[str, str], *, shown: list[str] | None = None
) -> ProcResult:
    ctx.emit.command(shown or argv)

    def on_line(stream: str, line: str) -> None:
        level = Level.WARNING if stream == "stderr" and re.search(r"error|fail", line, re.I) else Level.INFO
        ctx.emit.log(line, level)

    res = run_streaming([binary, *argv[1:]], on_line=on_line, cancel=ctx.cancel, env=env)
    if not res.ok:
        raise translate_failure(os.path.basename(binary) + " " + " ".join(argv[1:3]), res)
    return res


def extract_mirror_config(lines: list[str]) -> dict[str, str]:
    """The ImageContentSourcePolicy / ImageDigestMirrorSet documents oc printed (YAML text by kind)."""
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("apiVersion: "):
            block = [line]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("To "):
                block.append(lines[i])
                i += 1
            text = "\n".join(block) + "\n"
            m = re.search(r"^kind: (\S+)", text, re.M)
            if m:
                out[m.group(1)] = text
            continue
        i += 1
    return out


def _release_digest(ctx: Context, mode: str, media: str) -> str:
    """The release digest whose signature tag to copy: the plan's, the media's, or the source's."""
    plan = ctx.plan
    if plan.release.digest:
        return plan.release.digest
    try:
        if mode == "from-media":
            from engine.mirror.media import DirStore

            return DirStore(media, fsync=False).head_manifest(MEDIA_REPOSITORY, plan.release_tag) or ""
        from engine.mirror.core import _registries
        from engine.oci.registry import Reference

        ref = Reference.parse(plan.source_pullspec)
        regs = _registries(ctx, 1)
        try:
            return regs.get(ref.registry).head_manifest(ref.repository, ref.ref) or ""
        finally:
            regs.close()
    except AirgapError as exc:
        ctx.emit.warning(f"cannot resolve the release digest for its Sigstore signature tag: {exc.message}")
        return ""


def run_oc_backend(
    ctx: Context, *, to_dir: str = "", from_dir: str = "", dry_run: bool = False, verify: bool = True
) -> dict[str, Any]:
    """Mirror with oc. Returns a summary dict (mode, files, update image)."""
    from engine.mirror import media_dir, verify_mirror

    plan = ctx.plan
    mode = "to-media" if to_dir else "from-media" if from_dir else "direct"
    plan.require("release.version", *(() if mode == "to-media" else ("mirror.registry", "mirror.repository")))
    oc = find_oc(plan.resolve_path(plan.oc_path))
    media = media_dir(plan, to_dir or from_dir) if mode != "direct" else ""
    files: dict[str, str] = {}
    with ca_bundle_env(plan) as env:
        if mode == "direct":
            argv = mirror_commands.release_mirror_direct(plan, dry_run=dry_run, apply_signature=True)
            kube = ctx.kubeconfig
            if "--apply-release-image-signature" in argv and os.path.isfile(kube):
                argv = [*argv, f"--kubeconfig={kube}"]
            res = _run(ctx, argv, oc, env)
        elif mode == "to-media":
            Path(media).mkdir(parents=True, exist_ok=True) if not dry_run else None
            res = _run(ctx, mirror_commands.release_mirror_to_dir(plan, media, dry_run=dry_run), oc, env)
        else:
            if not Path(media).is_dir():
                raise RegistryNotFound(
                    f"the media folder {media} does not exist",
                    fix="Mount the media and give the folder holding v2/.",
                )
            res = _run(ctx, mirror_commands.image_mirror_from_dir(plan, media, dry_run=dry_run), oc, env)
        if mode != "to-media" and plan.mirror.release_images_repository:
            _run(ctx, mirror_commands.image_mirror_osus(plan, dry_run=dry_run), oc, env)
        # oc adm release mirror does not copy the Sigstore signature tag: copy it separately
        sig_digest = _release_digest(ctx, mode, media)
        if sig_digest:
            _run(
                ctx,
                mirror_commands.image_mirror_signature(
                    plan, sig_digest, mode=mode, media_dir=media, dry_run=dry_run
                ),
                oc,
                env,
            )
    update_image = ""
    for line in res.stdout:
        m = re.match(r"^Update image:\s+(\S+)", line)
        if m:
            update_image = m.group(1)
    docs = extract_mirror_config(res.stdout)
    summary: dict[str, Any] = {
        "mode": mode,
        "backend": "oc",
        "dry_run": dry_run,
        "update_image": update_image,
    }
    if not dry_run:
        if docs:
            from engine.mirror import output_dir
            from engine.oci.payload import ReleaseInfo

            info = ReleaseInfo(plan.release.version, "", plan.release.architecture, "")
            out = output_dir(plan, info)
            for kind, text in docs.items():
                p = out / f"{kind.lower()}.yaml"
                atomic_write_text(p, text, mode=0o644)
                files[kind.lower()] = str(p)
            ctx.emit.info(f"Mirror configuration from oc written to {out}")
        if mode == "to-media":
            path, n = write_checksums(Path(media), extra={"written_by": "oc adm release mirror"})
            files["checksums"] = str(path)
            ctx.emit.info(f"Checksum manifest of {n} files written to {path}")
        elif verify:
            report = verify_mirror(ctx)
            summary["verified"] = report.ok
            if not report.ok:
                raise RegistryError(
                    f"oc finished but verification found {len(report.problems)} problem(s); first: "
                    f"{report.problems[0].image}: {report.problems[0].what}",
                    fix="Run the mirror again.",
                )
    summary["files"] = files
    ctx.emit.result(StepStatus.SUCCEEDED, f"oc {mode} mirror of {plan.release.version} finished", summary)
    return summary


__all__ = [
    "ca_bundle_env",
    "extract_mirror_config",
    "run_oc_backend",
    "system_ca_bundle",
    "translate_failure",
]
