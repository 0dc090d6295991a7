"""Release mirroring, built in: direct (source registry → mirror registry), to removable media (``--to-dir``)
and from it (``--from-dir``), resumable and verified.

:func:`mirror_release` runs these named phases, in order, on one :class:`MirrorRun` (the run's state):

1. ``announce`` — the equivalent ``oc`` command.
2. ``resolve_source`` — resolve the release (tag → digest) and read ``image-references`` from the release image
   (cached per digest), from the source registry or from the media.
3. ``resolve_target`` — the mirror registry repository, or the media.
4. ``plan_jobs`` — every image: the release image tagged ``<version>-<arch>`` and each component tagged
   ``<version>-<arch>-<component>`` in one repository, digests preserved — exactly as ``oc adm release mirror``
   — and the OSUS copy when the plan asks for it.
5. ``fetch_signature`` — to media: the OpenPGP signature first (the far side has no other way to get it).
6. ``check_target`` — images already in the target with the right digest are skipped (this is the resume: a
   second run only looks, an interrupted run picks up what is missing).
7. ``dry_run_report`` — with ``--dry-run``: say what would be copied, and stop.
8. ``prepare_media`` — to media: free space, partial files of an interrupted run; open the journals.
9. ``copy`` — each blob at most once per target repository, mounted across repositories when the registry has
   it, many at once, streamed, every byte checked against its digest before it is committed. Transient
   failures (reset, timeout, 429, 5xx, registry restarted) are retried with backoff.
10. ``write_files`` — the ImageContentSourcePolicy / ImageDigestMirrorSet, the signature ConfigMap; for media
    the far side's plan and the checksum manifest.
11. ``verify`` — every manifest and blob copied now, by digest, and the tags.
12. ``record`` — the run summary, the verified record of the target (the next run's fast resume), the journal.

Events: ``Progress`` in ``images`` and ``bytes`` (rate and ETA), a log line per image copied or skipped, the
equivalent ``oc`` command. The run is journaled for the cluster when the plan's kubeconfig exists; media
carry their own journal, plan and checksums under ``ocp-airgap/``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine import sigstore
from engine.context import Context
from engine.errors import (
    AirgapError,
    Cancelled,
    InputError,
    RegistryError,
    SignatureError,
)
from engine.events import CheckStatus, StepStatus
from engine.fsutil import atomic_write_text
from engine.journal import Journal
from engine.mirror import commands as mirror_commands
from engine.mirror.config import output_dir, write_mirror_config
from engine.mirror.core import (
    STEP,
    Copier,
    ImageJob,
    MirrorOptions,
    MirrorSummary,
    _build_jobs,
    _check_media_first,
    _clear_repair,
    _concurrency,
    _fetch_signature,
    _journals,
    _load_repair,
    _load_verified,
    _media_extra,
    _media_release_tag,
    _read_release_cached,
    _registries,
    _require,
    _save_repair,
    _save_run,
    _save_verified,
    component_source,
    media_dir,
)
from engine.mirror.media import (
    MEDIA_REPOSITORY,
    STATE_DIR,
    DirStore,
    check_free_space,
    find_signature_file,
    signature_file_name,
    write_checksums,
)
from engine.mirror.verify import _verify_jobs
from engine.oci.payload import Component, ReleaseInfo
from engine.oci.registry import (
    ImageStore,
    Reference,
    Registries,
    TransientError,
)
from engine.plan import Plan
from engine.util import format_bytes

SIGSTORE_JOB = "release signature (sigstore)"
ComponentStore = Callable[[Component], tuple[ImageStore, str, str]]


@dataclass
class MirrorRun:
    """The state one :func:`mirror_release` run builds up, phase by phase."""

    ctx: Context
    options: MirrorOptions
    regs: Registries
    conc: int
    media: str
    started: float
    # resolve_source
    info: ReleaseInfo | None = None
    release_store: ImageStore | None = None
    release_repo: str = ""
    comp_store: ComponentStore | None = None
    # resolve_target
    target: ImageStore | None = None
    target_repo: str = ""
    target_name: str = ""
    summary: MirrorSummary | None = None
    # plan_jobs
    comps: list[ImageJob] = field(default_factory=list)
    release_job: ImageJob | None = None
    osus_job: ImageJob | None = None
    # plan_signature_jobs: the Sigstore signature image (sha256-<hex>.sig) and sigstore referrers
    sig_jobs: list[ImageJob] = field(default_factory=list)
    # fetch_signature
    signature: tuple[str, dict[str, Any]] | None = None
    # check_target
    copier: Copier | None = None
    needed: int = 0
    missing: list[ImageJob] = field(default_factory=list)
    # prepare_media
    journals: list[Journal] = field(default_factory=list)

    @property
    def plan(self) -> Plan:
        return self.ctx.plan

    @property
    def mode(self) -> str:
        return self.options.mode

    # typed accessors for what earlier phases set
    @property
    def rel(self) -> ReleaseInfo:
        assert self.info is not None, "resolve_source has not run"
        return self.info

    @property
    def sum(self) -> MirrorSummary:
        assert self.summary is not None, "resolve_target has not run"
        return self.summary

    @property
    def tgt(self) -> ImageStore:
        assert self.target is not None, "resolve_target has not run"
        return self.target

    @property
    def cop(self) -> Copier:
        assert self.copier is not None, "check_target has not run"
        return self.copier

    @property
    def main_jobs(self) -> list[ImageJob]:
        """Components, the release image, then its Sigstore signature: what the copy phase writes."""
        return self.comps + ([self.release_job] if self.release_job else []) + self.sig_jobs

    @property
    def all_jobs(self) -> list[ImageJob]:
        return self.main_jobs + ([self.osus_job] if self.osus_job else [])


def mirror_release(ctx: Context, options: MirrorOptions | None = None) -> MirrorSummary:
    """Mirror the plan's release: direct, to media (``options.to_dir``) or from media (``options.from_dir``)."""
    options = options or MirrorOptions()
    plan = ctx.plan
    _require(plan, options.mode)
    conc = _concurrency(ctx, options)
    started = time.monotonic()
    regs = _registries(ctx, conc)
    media = media_dir(plan, options.to_dir or options.from_dir) if options.mode != "direct" else ""
    run = MirrorRun(ctx, options, regs, conc, media, started)
    try:
        announce(run)
        resolve_source(run)
        resolve_target(run)
        plan_jobs(run)
        plan_signature_jobs(run)
        fetch_signature(run)
        check_target(run)
        if options.dry_run:
            return dry_run_report(run)
        prepare_media(run)
        copy(run)
        write_files(run)
        verify(run)
        verify_sigstore(run)
        return record(run)
    except BaseException as exc:
        for jr in run.journals:
            with contextlib.suppress(Exception):
                status = "cancelled" if isinstance(exc, Cancelled | KeyboardInterrupt) else "failed"
                jr.step_finished(
                    STEP,
                    status,
                    str(exc) if isinstance(exc, AirgapError) else type(exc).__name__,
                    mode=run.mode,
                )
        if isinstance(exc, TransientError):
            raise RegistryError(
                f"{exc.message} (still failing after {options.retry.attempts} attempts)",
                fix=(exc.fix + " " if exc.fix else "")
                + "Then run the same command again: everything already copied is kept and skipped.",
            ) from None
        raise
    finally:
        regs.close()


# ----- phases ------------------------------------------------------------------------------------------
def announce(run: MirrorRun) -> None:
    """The equivalent ``oc`` command for this mode."""
    ctx, plan, dry = run.ctx, run.plan, run.options.dry_run
    if run.mode == "direct":
        ctx.emit.command(
            mirror_commands.release_mirror_direct(plan, dry_run=dry, apply_signature=False),
            note="equivalent oc command (the signature is applied in the signature step)",
        )
    elif run.mode == "to-media":
        ctx.emit.command(mirror_commands.release_mirror_to_dir(plan, run.media, dry_run=dry))
    else:
        ctx.emit.command(mirror_commands.image_mirror_from_dir(plan, run.media, dry_run=dry))


def resolve_source(run: MirrorRun) -> None:
    """Resolve the release (tag → digest) and read its component list, from the source or the media."""
    ctx, plan = run.ctx, run.plan
    if run.mode == "from-media":
        if not Path(run.media).is_dir():
            raise InputError(
                f"the media folder {run.media} does not exist",
                fix="Mount the media and give the folder that holds v2/ (--from-dir).",
            )
        src_store = DirStore(run.media, fsync=False)
        _check_media_first(ctx, run.media)
        release_tag = _media_release_tag(src_store, plan)
        info = _read_release_cached(
            src_store, MEDIA_REPOSITORY, release_tag, plan.release.architecture, cache=False
        )

        def media_comp(c: Component) -> tuple[ImageStore, str, str]:
            return src_store, MEDIA_REPOSITORY, c.digest

        run.release_store, run.release_repo, run.comp_store = src_store, MEDIA_REPOSITORY, media_comp
    else:
        rel_ref = Reference.parse(
            plan.source_pullspec
            if not plan.release.digest
            else f"{plan.endpoints.release_source}@{plan.release.digest}"
        )
        release_client = run.regs.get(rel_ref.registry)
        ctx.emit.info(f"Reading release {rel_ref} …")
        info = _read_release_cached(
            release_client, rel_ref.repository, rel_ref.ref, plan.release.architecture, cache=True
        )
        if plan.release.digest and plan.release.digest != info.digest:
            raise RegistryError(
                f"the release at {rel_ref} has digest {info.digest}, the plan expects {plan.release.digest}"
            )
        regs = run.regs

        def source_comp(c: Component) -> tuple[ImageStore, str, str]:
            ref = component_source(plan, c)
            return regs.get(ref.registry), ref.repository, ref.digest

        run.release_store, run.release_repo, run.comp_store = release_client, rel_ref.repository, source_comp
    run.info = info
    ctx.emit.info(
        f"Release {info.version} ({info.architecture}) {info.digest}: {len(info.components)} components"
    )


def resolve_target(run: MirrorRun) -> None:
    """The mirror registry repository, or the media's repository."""
    plan = run.plan
    if run.mode == "to-media":
        run.target = DirStore(run.media)
        run.target_repo = MEDIA_REPOSITORY
        run.target_name = f"file://{MEDIA_REPOSITORY} in {run.media}"
    else:
        run.target = run.regs.get(plan.mirror.registry)
        run.target_repo = plan.mirror.repository
        run.target_name = plan.mirror_repository
    run.summary = MirrorSummary(
        mode=run.mode, release=run.rel, target=run.target_name, dry_run=run.options.dry_run
    )


def plan_jobs(run: MirrorRun) -> None:
    """One job per image: the components, the release image, and the OSUS copy when the plan has one."""
    assert run.release_store is not None and run.comp_store is not None
    plan, info = run.plan, run.rel
    run.comps, run.release_job = _build_jobs(
        plan,
        info,
        release_store=run.release_store,
        release_repo=run.release_repo,
        component_store=run.comp_store,
        target_repo=run.target_repo,
    )
    if run.mode != "to-media" and plan.mirror.release_images_repository:
        run.osus_job = ImageJob(
            "release (OSUS)",
            run.tgt,
            run.target_repo,
            info.digest,
            plan.mirror.release_images_repository,
            info.tag,
        )


def plan_signature_jobs(run: MirrorRun) -> None:
    """The release's Sigstore signature image (tag ``sha256-<hex>.sig`` in the release repository) and any
    sigstore referrers the source serves, copied beside the release in the target (engine/sigstore.py says
    where CRI-O looks for them)."""
    assert run.release_store is not None
    ctx, info = run.ctx, run.rel
    tag = sigstore.signature_tag(info.digest)
    have = run.release_store.head_manifest(run.release_repo, tag)
    if have is None:
        where = "the media" if run.mode == "from-media" else run.release_repo
        if sigstore.requires_sigstore(info.version):
            ctx.emit.warning(
                f"{where} has no Sigstore signature {tag} for release {info.version}; clusters on 4.21 or later "
                "refuse to run a mirrored release without it (preflight checks it before the update)"
            )
        else:
            ctx.emit.info(f"No Sigstore signature {tag} in {where} (optional before 4.21).")
    else:
        run.sig_jobs.append(
            ImageJob(SIGSTORE_JOB, run.release_store, run.release_repo, have, run.target_repo, tag)
        )
    for digest in sigstore.sigstore_referrers(run.release_store, run.release_repo, info.digest):
        run.sig_jobs.append(
            ImageJob(
                "release signature (referrer)",
                run.release_store,
                run.release_repo,
                digest,
                run.target_repo,
                digest,
            )
        )
    if run.sig_jobs:
        ctx.emit.info(
            f"Sigstore: {len(run.sig_jobs)} signature image(s) of the release are copied with it ({tag})"
        )
        ctx.emit.command(
            mirror_commands.image_mirror_signature(
                run.plan, info.digest, mode=run.mode, media_dir=run.media, dry_run=run.options.dry_run
            ),
            note="equivalent oc command for the signature tag (oc adm release mirror does not copy it)",
        )


def fetch_signature(run: MirrorRun) -> None:
    """To media: the OpenPGP release signature first (the far side has no other way to get it)."""
    if run.options.signature and run.mode == "to-media":
        run.signature = _fetch_signature(run.ctx, run.rel, required=True)


def check_target(run: MirrorRun) -> None:
    """What is already in the target (skipped), what is missing, and how many bytes at most to copy."""
    ctx, options = run.ctx, run.options
    run.copier = Copier(
        ctx, run.tgt, concurrency=run.conc, retry=options.retry, progress_interval=options.progress_interval
    )
    # link faults (retries, a switch to chunked uploads) reach the progress line and the log
    run.regs.set_hooks(on_retry=run.copier.link_retry, on_notice=ctx.emit.warning, retry=options.retry)
    jobs = run.main_jobs
    ctx.emit.info(f"Checking {len(jobs)} images in {run.target_name} …")
    verified = _load_verified(run.target_name) if run.mode != "to-media" else {}
    run.copier.plan(jobs, verified=verified, repair=_load_repair(run.target_name))
    run.needed = run.copier.needed_bytes(jobs)
    run.missing = [j for j in jobs if not j.present]
    run.sum.images_total = len(jobs) + (1 if run.osus_job else 0)
    run.sum.bytes_needed = run.needed
    ctx.emit.info(
        f"{len(run.missing)} of {len(jobs)} images to copy ({format_bytes(run.needed)} at most; blobs already in "
        "the target are skipped)"
    )


def dry_run_report(run: MirrorRun) -> MirrorSummary:
    """Say what would be copied; nothing is written."""
    ctx, summary, jobs = run.ctx, run.sum, run.main_jobs
    for j in run.missing:
        ctx.emit.info(f"would copy {j.tag} ({j.name}) {format_bytes(sum(max(0, b.size) for b in j.blobs))}")
    if run.osus_job:
        ctx.emit.command(mirror_commands.image_mirror_osus(run.plan, dry_run=True))
    summary.images_skipped = len(jobs) - len(run.missing)
    summary.seconds = time.monotonic() - run.started
    ctx.emit.result(
        StepStatus.SUCCEEDED,
        f"dry run: {len(run.missing)} of {len(jobs)} images ({format_bytes(run.needed)}) would be copied to "
        f"{run.target_name}; nothing was written",
        summary.to_dict(),
    )
    return summary


def prepare_media(run: MirrorRun) -> None:
    """To media: enough free space, no partial files left by an interrupted run. Then open the journals."""
    ctx = run.ctx
    if run.mode == "to-media":
        check_free_space(
            Path(run.media),
            run.needed + sum(len(m.data) for j in run.missing for m in j.manifests),
            probe=run.options.free_space_probe,
        )
        Path(run.media).mkdir(parents=True, exist_ok=True)
        removed = DirStore(run.media).remove_partials()
        if removed:
            ctx.emit.info(f"Removed {removed} partial file(s) left by an interrupted run.")
    run.journals = _journals(ctx, run.media if run.mode == "to-media" else "")
    info = run.rel
    for jr in run.journals:
        jr.step_started(STEP, mode=run.mode, release=info.version, digest=info.digest, target=run.target_name)


def copy(run: MirrorRun) -> None:
    """Components first, then the release image; the OSUS copy once both are in."""
    copier, summary = run.cop, run.sum
    groups = [run.comps, [run.release_job] if run.release_job else []]
    if run.sig_jobs:
        groups.append(run.sig_jobs)  # after the release image, as cosign pushes it
    failures = copier.copy(groups, run.needed)
    osus = run.osus_job
    if not failures and osus is not None:
        run.ctx.emit.command(mirror_commands.image_mirror_osus(run.plan))
        copier.plan([osus])
        failures += copier.copy([[osus]], copier.needed_bytes([osus]))
    tracker = copier.tracker
    summary.images_copied = sum(1 for j in run.all_jobs if not j.present)
    summary.images_skipped = summary.images_total - summary.images_copied
    summary.blobs_copied = copier.stats["copied"]
    summary.blobs_mounted = copier.stats["mounted"]
    summary.blobs_skipped = copier.stats["skipped"]
    summary.bytes_copied = tracker.bytes_moved if tracker else 0
    summary.failures = failures
    if failures:
        raise RegistryError(
            f"{len(failures)} image(s) could not be copied; first: {failures[0]}",
            fix="Fix the cause and run the same command again: everything already copied is kept and skipped.",
        )


def write_files(run: MirrorRun) -> None:
    """Media: the far side's plan, the signature and the checksum manifest. Registry: the mirror
    configuration (ICSP/IDMS) and the signature ConfigMap."""
    ctx, plan, info, summary, signature = run.ctx, run.plan, run.rel, run.sum, run.signature
    if run.mode == "to-media":
        summary.files.update(_write_media_files(ctx, run.media, info, signature))
        ctx.emit.command(
            mirror_commands.image_mirror_from_dir(plan, run.media, info.version),
            note="on the disconnected side (or: ocp-airgap mirror --from-dir)",
        )
        if run.sig_jobs:
            ctx.emit.command(
                mirror_commands.image_mirror_signature(
                    plan, info.digest, mode="from-media", media_dir=run.media
                ),
                note="on the disconnected side too: the Sigstore signature tag (the release's glob does not match it)",
            )
        return
    out_dir = output_dir(plan, info, run.options.output_dir)
    summary.files.update(write_mirror_config(ctx, info, out_dir))
    if signature is not None:
        sig_path = out_dir / signature[0]
        atomic_write_text(sig_path, json.dumps(signature[1], indent=2) + "\n", mode=0o644)
        summary.files["signature"] = str(sig_path)
    if run.mode == "from-media":
        sig = find_signature_file(Path(run.media), info.digest)
        if sig is not None:
            summary.files["signature"] = str(sig.resolve())
            ctx.emit.info(f"Release signature on the media: {sig.resolve()}")
        else:
            ctx.emit.warning(
                f"the media has no signature file config/{signature_file_name(info.digest)}; the "
                "signature step needs it (or the signature store)"
            )


def verify(run: MirrorRun) -> None:
    """What was copied now is verified in full; what was already there was matched by tag and digest (run
    'mirror verify' for a full check of everything)."""
    ctx, summary = run.ctx, run.sum
    if not run.options.verify:
        return
    copied_now = [j for j in run.all_jobs if not j.present]
    if not copied_now:
        ctx.emit.check(
            "mirror contents",
            CheckStatus.PASS,
            f"all {summary.images_total} images already in {run.target_name} with the right digests "
            "(run 'ocp-airgap mirror verify' to check every blob)",
        )
        return
    report = _verify_jobs(
        ctx,
        run.tgt,
        copied_now,
        deep=False,
        light=True,
        concurrency=run.conc,
        name=run.target_name,
        info=run.rel,
    )
    summary.verified = report.ok
    if not report.ok:
        _save_repair(run.target_name, report)
        raise RegistryError(
            f"verification found {len(report.problems)} problem(s) in {run.target_name}; first: "
            f"{report.problems[0].image}: {report.problems[0].what}",
            fix="Run the same command again to copy what is missing.",
        )


def verify_sigstore(run: MirrorRun) -> None:
    """Verify the Sigstore signature now in the target before anything is applied: against the plan's key
    (``endpoints.sigstore_key``) when there is one; the digest binding alone otherwise."""
    ctx, plan, info = run.ctx, run.plan, run.rel
    job = next((j for j in run.sig_jobs if j.name == SIGSTORE_JOB), None)
    if job is None:
        return
    image_repo = sigstore.repository_of(plan.endpoints.release_source)
    key_file = plan.endpoints.sigstore_key
    if not key_file:
        result = sigstore.inspect_release(run.tgt, run.target_repo, info.digest)
        run.sum.sigstore = result.to_dict()
        if result.problems:
            raise SignatureError(
                f"the Sigstore signature {job.tag} copied to {run.target_name} is not for this release: "
                + "; ".join(result.problems),
                fix="The source holds a signature for another image under this tag; check the release source.",
            )
        ctx.emit.check(
            "Sigstore signature",
            CheckStatus.WARN,
            f"{job.tag} is in {run.target_name} and names {info.digest} ({result.identity}); its key was not "
            "checked here (set endpoints.sigstore_key, or preflight checks it against the cluster's "
            "ClusterImagePolicy)",
        )
        return
    policy = sigstore.policy_from_key_file(plan.resolve_path(key_file), image_repo)
    result = sigstore.verify_release(run.tgt, run.target_repo, info.digest, policy, image_repo)
    run.sum.sigstore = result.to_dict()
    sigstore.require_valid(result, run.target_name)
    ctx.emit.check(
        "Sigstore signature",
        CheckStatus.PASS,
        f"{job.tag} in {run.target_name}: valid for {info.digest}, identity {result.identity}, "
        f"{result.key_type} key {result.key_id}",
    )


def record(run: MirrorRun) -> MirrorSummary:
    """The run summary, the verified record of the target, the journals; the result event."""
    ctx, summary = run.ctx, run.sum
    summary.seconds = time.monotonic() - run.started
    _save_run(run.plan, summary, run.media if run.mode == "to-media" else "")
    copied_now = any(not j.present for j in run.all_jobs)
    if run.mode != "to-media" and (summary.verified or not copied_now):
        _clear_repair(run.target_name)
        _save_verified(run.target_name, run.all_jobs)
    for jr in run.journals:
        jr.step_finished(STEP, "succeeded", _summary_line(summary), **summary.to_dict())
    if run.mode == "to-media":
        # the journal on the media changed: refresh its checksum entry
        write_checksums(Path(run.media), extra=_media_extra(run.rel))
    ctx.emit.result(StepStatus.SUCCEEDED, _summary_line(summary), summary.to_dict())
    return summary


def _summary_line(s: MirrorSummary) -> str:
    rate = s.bytes_copied / s.seconds if s.seconds else 0
    return (
        f"{s.release.version} in {s.target}: {s.images_copied} image(s) copied, {s.images_skipped} already there; "
        f"{format_bytes(s.bytes_copied)} in {s.seconds:.1f} s ({format_bytes(rate)}/s)"
        + ("; verified" if s.verified else "")
    )


def _write_media_files(
    ctx: Context, media: str, info: ReleaseInfo, signature: tuple[str, dict[str, Any]] | None
) -> dict[str, str]:
    root = Path(media)
    files: dict[str, str] = {}
    if signature is not None:
        p = root / "config" / signature[0]
        atomic_write_text(p, json.dumps(signature[1], indent=2) + "\n", mode=0o644)
        files["signature"] = str(p)
        ctx.emit.info(f"Release signature ConfigMap written to {p}")
    far = ctx.plan.to_dict()
    far["mirroring"] = {**far["mirroring"], "mode": "from-media"}
    far["release"] = {**far["release"], "digest": info.digest}
    far_plan = Plan.from_yaml(yaml.safe_dump(far, sort_keys=False), path="<far side plan>")
    atomic_write_text(root / STATE_DIR / "plan.yaml", far_plan.to_yaml(), mode=0o644)
    atomic_write_text(
        root / STATE_DIR / "release.json", json.dumps(info.to_dict(), indent=1) + "\n", mode=0o644
    )
    files["plan"] = str(root / STATE_DIR / "plan.yaml")
    files["release"] = str(root / STATE_DIR / "release.json")
    out, n = write_checksums(root, extra=_media_extra(info))
    files["checksums"] = str(out)
    ctx.emit.info(f"Checksum manifest of {n} files written to {out}")
    return files
