"""Release mirroring, built in: direct (source registry → mirror registry), to removable media (``--to-dir``)
and from it (``--from-dir``), resumable and verified.

What a run does:

1. Resolve the release (tag → digest) and read ``image-references`` from the release image (cached per digest).
2. Plan every image: the release image tagged ``<version>-<arch>`` and each component tagged
   ``<version>-<arch>-<component>`` in one repository, digests preserved — exactly as ``oc adm release mirror``.
   Images already in the target with the right digest are skipped (this is the resume: a second run only
   looks, an interrupted run picks up what is missing).
3. Copy: each blob at most once per target repository, mounted across repositories when the registry has it,
   many at once, streamed (memory does not grow with blob size), every byte checked against its digest
   before it is committed. Transient failures (reset, timeout, 429, 5xx, registry restarted) are retried with
   backoff; the blob is started again.
4. Verify every manifest and blob of the release in the target by digest, and the tags.
5. Write the ImageContentSourcePolicy / ImageDigestMirrorSet (and the signature ConfigMap for media).

Events: ``Progress`` in ``images`` and ``bytes`` (rate and ETA), a log line per image copied or skipped, the
equivalent ``oc`` command. The run is journaled for the cluster when the plan's kubeconfig exists; media
carry their own journal, plan and checksums under ``ocp-airgap/``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import yaml

from engine.context import Context
from engine.errors import (
    AirgapError,
    Cancelled,
    InputError,
    RegistryError,
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
    TransientError,
)
from engine.plan import Plan
from engine.util import format_bytes


def mirror_release(ctx: Context, options: MirrorOptions | None = None) -> MirrorSummary:
    """Mirror the plan's release: direct, to media (``options.to_dir``) or from media (``options.from_dir``)."""
    options = options or MirrorOptions()
    plan = ctx.plan
    mode = options.mode
    _require(plan, mode)
    conc = _concurrency(ctx, options)
    started = time.monotonic()
    regs = _registries(ctx, conc)
    media = media_dir(plan, options.to_dir or options.from_dir) if mode != "direct" else ""
    journals: list[Journal] = []
    summary: MirrorSummary | None = None
    try:
        # ----- the equivalent oc command -----
        if mode == "direct":
            ctx.emit.command(
                mirror_commands.release_mirror_direct(plan, dry_run=options.dry_run, apply_signature=False),
                note="equivalent oc command (the signature is applied in the signature step)",
            )
        elif mode == "to-media":
            ctx.emit.command(mirror_commands.release_mirror_to_dir(plan, media, dry_run=options.dry_run))
        else:
            ctx.emit.command(mirror_commands.image_mirror_from_dir(plan, media, dry_run=options.dry_run))

        # ----- source and target -----
        if mode == "from-media":
            if not Path(media).is_dir():
                raise InputError(
                    f"the media folder {media} does not exist",
                    fix="Mount the media and give the folder that holds v2/ (--from-dir).",
                )
            src_store = DirStore(media, fsync=False)
            _check_media_first(ctx, media)
            release_tag = _media_release_tag(src_store, plan)
            info = _read_release_cached(
                src_store, MEDIA_REPOSITORY, release_tag, plan.release.architecture, cache=False
            )

            def comp_store(c: Component) -> tuple[ImageStore, str, str]:
                return src_store, MEDIA_REPOSITORY, c.digest

            release_store: ImageStore = src_store
            release_repo = MEDIA_REPOSITORY
        else:
            rel_ref = Reference.parse(
                plan.source_pullspec
                if not plan.release.digest
                else f"{plan.endpoints.release_source}@{plan.release.digest}"
            )
            release_client = regs.get(rel_ref.registry)
            ctx.emit.info(f"Reading release {rel_ref} …")
            info = _read_release_cached(
                release_client, rel_ref.repository, rel_ref.ref, plan.release.architecture, cache=True
            )
            if plan.release.digest and plan.release.digest != info.digest:
                raise RegistryError(
                    f"the release at {rel_ref} has digest {info.digest}, the plan expects {plan.release.digest}"
                )

            def comp_store(c: Component) -> tuple[ImageStore, str, str]:
                ref = component_source(plan, c)
                return regs.get(ref.registry), ref.repository, ref.digest

            release_store = release_client
            release_repo = rel_ref.repository
        ctx.emit.info(
            f"Release {info.version} ({info.architecture}) {info.digest}: {len(info.components)} components"
        )

        target: ImageStore
        if mode == "to-media":
            target = DirStore(media)
            target_repo = MEDIA_REPOSITORY
            target_name = f"file://{MEDIA_REPOSITORY} in {media}"
        else:
            target = regs.get(plan.mirror.registry)
            target_repo = plan.mirror.repository
            target_name = plan.mirror_repository
        summary = MirrorSummary(mode=mode, release=info, target=target_name, dry_run=options.dry_run)

        comps, release_job = _build_jobs(
            plan,
            info,
            release_store=release_store,
            release_repo=release_repo,
            component_store=comp_store,
            target_repo=target_repo,
        )
        groups: list[list[ImageJob]] = [comps, [release_job]]
        osus_job: ImageJob | None = None
        if mode != "to-media" and plan.mirror.release_images_repository:
            osus_job = ImageJob(
                "release (OSUS)",
                target,
                target_repo,
                info.digest,
                plan.mirror.release_images_repository,
                info.tag,
            )

        # ----- signature first (to media: the far side has no other way to get it) -----
        signature: tuple[str, dict[str, Any]] | None = None
        if options.signature and mode == "to-media":
            signature = _fetch_signature(ctx, info, required=True)

        copier = Copier(
            ctx, target, concurrency=conc, retry=options.retry, progress_interval=options.progress_interval
        )
        all_jobs = comps + [release_job]
        ctx.emit.info(f"Checking {len(all_jobs)} images in {target_name} …")
        record = _load_verified(target_name) if mode != "to-media" else {}
        repair = _load_repair(target_name)
        copier.plan(all_jobs, verified=record, repair=repair)
        needed = copier.needed_bytes(all_jobs)
        missing = [j for j in all_jobs if not j.present]
        summary.images_total = len(all_jobs) + (1 if osus_job else 0)
        summary.bytes_needed = needed
        ctx.emit.info(
            f"{len(missing)} of {len(all_jobs)} images to copy ({format_bytes(needed)} at most; blobs already in "
            "the target are skipped)"
        )
        if options.dry_run:
            for j in missing:
                ctx.emit.info(
                    f"would copy {j.tag} ({j.name}) {format_bytes(sum(max(0, b.size) for b in j.blobs))}"
                )
            if osus_job:
                ctx.emit.command(mirror_commands.image_mirror_osus(plan, dry_run=True))
            summary.images_skipped = len(all_jobs) - len(missing)
            summary.seconds = time.monotonic() - started
            ctx.emit.result(
                StepStatus.SUCCEEDED,
                f"dry run: {len(missing)} of {len(all_jobs)} images ({format_bytes(needed)}) would be copied to "
                f"{target_name}; nothing was written",
                summary.to_dict(),
            )
            return summary

        if mode == "to-media":
            check_free_space(
                Path(media),
                needed + sum(len(m.data) for j in missing for m in j.manifests),
                probe=options.free_space_probe,
            )
            Path(media).mkdir(parents=True, exist_ok=True)
            removed = DirStore(media).remove_partials()
            if removed:
                ctx.emit.info(f"Removed {removed} partial file(s) left by an interrupted run.")
        journals = _journals(ctx, media if mode == "to-media" else "")
        for jr in journals:
            jr.step_started(STEP, mode=mode, release=info.version, digest=info.digest, target=target_name)

        failures = copier.copy(groups, needed)
        if not failures and osus_job is not None:
            ctx.emit.command(mirror_commands.image_mirror_osus(plan))
            copier.plan([osus_job])
            failures += copier.copy([[osus_job]], copier.needed_bytes([osus_job]))
        tracker = copier.tracker
        summary.images_copied = sum(1 for j in all_jobs if not j.present) + (
            1 if osus_job and not osus_job.present else 0
        )
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

        # ----- files -----
        if mode == "to-media":
            summary.files.update(_write_media_files(ctx, media, info, signature))
            ctx.emit.command(
                mirror_commands.image_mirror_from_dir(plan, media, info.version),
                note="on the disconnected side (or: ocp-airgap mirror --from-dir)",
            )
        else:
            out_dir = output_dir(plan, info, options.output_dir)
            summary.files.update(write_mirror_config(ctx, info, out_dir))
            if signature is not None:
                sig_path = out_dir / signature[0]
                atomic_write_text(sig_path, json.dumps(signature[1], indent=2) + "\n", mode=0o644)
                summary.files["signature"] = str(sig_path)
            if mode == "from-media":
                sig = find_signature_file(Path(media), info.digest)
                if sig is not None:
                    summary.files["signature"] = str(sig.resolve())
                    ctx.emit.info(f"Release signature on the media: {sig.resolve()}")
                else:
                    ctx.emit.warning(
                        f"the media has no signature file config/{signature_file_name(info.digest)}; the "
                        "signature step needs it (or the signature store)"
                    )

        # ----- verify -----
        # what was copied now is verified in full; what was already there was matched by tag and digest
        # (run 'mirror verify' for a full check of everything)
        copied_now = [j for j in comps + [release_job] + ([osus_job] if osus_job else []) if not j.present]
        if options.verify and not copied_now:
            ctx.emit.check(
                "mirror contents",
                CheckStatus.PASS,
                f"all {summary.images_total} images already in {target_name} with the right digests "
                "(run 'ocp-airgap mirror verify' to check every blob)",
            )
        if options.verify and copied_now:
            report = _verify_jobs(
                ctx,
                target,
                copied_now,
                deep=False,
                light=True,
                concurrency=conc,
                name=target_name,
                info=info,
            )
            summary.verified = report.ok
            if not report.ok:
                _save_repair(target_name, report)
                raise RegistryError(
                    f"verification found {len(report.problems)} problem(s) in {target_name}; first: "
                    f"{report.problems[0].image}: {report.problems[0].what}",
                    fix="Run the same command again to copy what is missing.",
                )
        summary.seconds = time.monotonic() - started
        _save_run(plan, summary, media if mode == "to-media" else "")
        if mode != "to-media" and (summary.verified or not copied_now):
            _clear_repair(target_name)
            _save_verified(target_name, comps + [release_job] + ([osus_job] if osus_job else []))
        for jr in journals:
            jr.step_finished(STEP, "succeeded", _summary_line(summary), **summary.to_dict())
        if mode == "to-media":
            # the journal on the media changed: refresh its checksum entry
            write_checksums(Path(media), extra=_media_extra(info))
        ctx.emit.result(StepStatus.SUCCEEDED, _summary_line(summary), summary.to_dict())
        return summary
    except BaseException as exc:
        for jr in journals:
            with contextlib.suppress(Exception):
                status = "cancelled" if isinstance(exc, Cancelled | KeyboardInterrupt) else "failed"
                jr.step_finished(
                    STEP, status, str(exc) if isinstance(exc, AirgapError) else type(exc).__name__, mode=mode
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
