"""Verification of a mirror (registry or media) by digest: every manifest and blob of the release, and the tags."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine import sigstore
from engine.context import Context
from engine.errors import (
    AirgapError,
    InputError,
    RegistryNotFound,
)
from engine.events import CheckStatus, StepStatus
from engine.mirror import commands as mirror_commands
from engine.mirror.core import (
    FATAL,
    STEP,
    ImageJob,
    VerifyProblem,
    VerifyReport,
    _cluster_journal,
    _registries,
    _save_repair,
    media_dir,
)
from engine.mirror.media import (
    MEDIA_REPOSITORY,
    DirStore,
    check_media,
)
from engine.oci.payload import ReleaseInfo, read_release
from engine.oci.registry import (
    Descriptor,
    HashingIterator,
    ImageStore,
    Manifest,
    RegistryClient,
)


# ----- verify ----------------------------------------------------------------------------------------------
def _verify_jobs(
    ctx: Context,
    target: ImageStore,
    jobs: list[ImageJob],
    *,
    deep: bool,
    concurrency: int,
    name: str,
    info: ReleaseInfo | None,
    light: bool = False,
) -> VerifyReport:
    report = VerifyReport(target=name, release=info)
    lock = threading.Lock()
    done = [0]
    checked: dict[tuple[str, str], str] = {}
    """(repo, blob digest) → '' if fine, else the problem (shared layers are checked once per repository)"""

    def check_blob(repo: str, b: Descriptor) -> str:
        key = (repo, b.digest)
        with lock:
            if key in checked:
                return checked[key]
        result = ""
        if deep:
            try:
                with target.open_blob(repo, b.digest) as chunks:
                    h = HashingIterator(chunks)
                    for _ in h:
                        pass
                    h.check(b.digest, b.size, f"blob {b.digest}")
            except RegistryNotFound:
                result = f"blob {b.digest} missing"
            except AirgapError as exc:
                if isinstance(exc, FATAL):
                    raise
                result = exc.message
        else:
            size = target.blob_size(repo, b.digest)
            if size is None:
                result = f"blob {b.digest} missing"
            elif b.size >= 0 and size >= 0 and size != b.size:
                result = f"blob {b.digest} has {size} bytes, expected {b.size}"
        with lock:
            checked[key] = result
        return result

    def problem(job: ImageJob, what: str) -> None:
        with lock:
            report.problems.append(VerifyProblem(f"{job.target_repo}:{job.tag}", what))

    def one(job: ImageJob) -> None:
        ctx.check_cancel()
        have = target.head_manifest(job.target_repo, job.tag)
        if have is None:
            problem(job, "tag missing")
        elif have != job.digest:
            problem(job, f"tag points to {have}, expected {job.digest}")
        manifests: list[Manifest] = []
        if light and job.manifests:
            # just written from bytes checked against their digests: the tag lookup above found the top
            # manifest by digest; check the children are there too
            for m in job.manifests[:-1]:
                if target.head_manifest(job.target_repo, m.digest) != m.digest:
                    problem(job, f"manifest {m.digest} missing")
            manifests = list(job.manifests)
        else:
            try:
                top = target.get_manifest(job.target_repo, job.digest)
            except RegistryNotFound:
                problem(job, f"manifest {job.digest} missing")
                return
            manifests = [top]
            if top.is_index:
                for c in top.children():
                    try:
                        manifests.append(target.get_manifest(job.target_repo, c.digest))
                    except RegistryNotFound:
                        problem(job, f"manifest {c.digest} missing")
        n = 0
        for m in manifests:
            for b in m.blobs():
                n += 1
                trouble = check_blob(job.target_repo, b)
                if trouble:
                    problem(job, trouble)
        with lock:
            report.images += 1
            report.blobs += n
            done[0] += 1
            ctx.emit.progress(done[0], len(jobs), "images", f"verifying {job.name}")

    ctx.emit.info(f"Verifying {len(jobs)} images in {name}{' (reading every blob)' if deep else ''} …")
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="mirror-verify") as pool:
        futures = [pool.submit(one, j) for j in jobs]
        for f in futures:
            f.result()
    for p in report.problems[:50]:
        ctx.emit.check(
            f"mirror {p.image}", CheckStatus.FAIL, p.what, fix="Run the mirror again to copy what is missing."
        )
    if report.ok:
        ctx.emit.check(
            "mirror contents",
            CheckStatus.PASS,
            f"{report.images} images and {report.blobs} blob references present by digest in {name}; tags correct",
        )
    return report


def verify_mirror(
    ctx: Context, *, deep: bool = False, to_dir: str = "", concurrency: int = 0
) -> VerifyReport:
    """Check that the mirror (or the media with ``to_dir``) holds every manifest and blob of the plan's release
    by digest and that the tags point where they should. Reads the release from the mirror itself, so it works
    on the disconnected side too."""
    plan = ctx.plan
    conc = concurrency or plan.mirroring.concurrency or 6
    regs = _registries(ctx, conc)
    try:
        target: ImageStore
        if to_dir:
            d = media_dir(plan, to_dir)
            if not Path(d).is_dir():
                raise InputError(
                    f"the media folder {d} does not exist", fix="Give the folder that holds v2/."
                )
            check = check_media(Path(d))
            if check.had_manifest:
                for p in check.problems[:50]:
                    ctx.emit.check(
                        f"media file {p.path}", CheckStatus.FAIL, f"{p.problem} {p.detail}".strip()
                    )
                if check.ok:
                    ctx.emit.check("media checksums", CheckStatus.PASS, f"{check.files} files intact")
            store = DirStore(d, fsync=False)
            target, repo, name = store, MEDIA_REPOSITORY, f"file://{MEDIA_REPOSITORY} in {d}"
            ref = plan.release_tag
        else:
            plan.require("release.version", "mirror.registry", "mirror.repository")
            client: RegistryClient = regs.get(plan.mirror.registry)
            target, repo, name = client, plan.mirror.repository, plan.mirror_repository
            ref = plan.release.digest or plan.release_tag
            ctx.emit.command(
                mirror_commands.release_info(plan, f"{plan.mirror_repository}:{plan.release_tag}"),
                note="lists what the mirror holds for the release",
            )
        try:
            info = read_release(target, repo, ref, architecture=plan.release.architecture)
        except RegistryNotFound as exc:
            report = VerifyReport(target=name, release=None)
            report.problems.append(
                VerifyProblem(f"{repo}:{plan.release_tag}", f"release image missing ({exc.message})")
            )
            ctx.emit.check(
                f"mirror {repo}:{plan.release_tag}",
                CheckStatus.FAIL,
                "release image missing",
                fix="Mirror the release first: ocp-airgap mirror --plan P",
            )
            return report
        comps = [
            ImageJob(c.name, target, repo, c.digest, repo, info.component_tag(c.name))
            for c in info.components
        ]
        jobs = comps + [ImageJob("release", target, repo, info.digest, repo, info.tag)]
        if not to_dir and plan.mirror.release_images_repository:
            jobs.append(
                ImageJob(
                    "release (OSUS)",
                    target,
                    repo,
                    info.digest,
                    plan.mirror.release_images_repository,
                    info.tag,
                )
            )
        sig_tag = sigstore.signature_tag(info.digest)
        sig_digest = target.head_manifest(repo, sig_tag)
        if sig_digest:
            jobs.append(ImageJob("release signature (sigstore)", target, repo, sig_digest, repo, sig_tag))
        report = _verify_jobs(ctx, target, jobs, deep=deep, concurrency=conc, name=name, info=info)
        if not sig_digest and sigstore.requires_sigstore(info.version):
            report.problems.append(
                VerifyProblem(f"{repo}:{sig_tag}", "Sigstore signature image missing (required from 4.21)")
            )
            ctx.emit.check(
                f"mirror {repo}:{sig_tag}",
                CheckStatus.FAIL,
                "the release's Sigstore signature image is missing; 4.21 clusters refuse the mirrored release "
                "without it",
                fix="Run 'ocp-airgap mirror' again: it copies the signature tag with the release.",
            )
        elif sig_digest:
            ctx.emit.check(f"mirror {repo}:{sig_tag}", CheckStatus.PASS, "Sigstore signature image present")
        if to_dir and check.had_manifest:
            report.problems += [VerifyProblem(f"media {p.path}", p.problem) for p in check.problems]
        if not to_dir and not report.ok:
            _save_repair(name, report)
        j = _cluster_journal(ctx)
        if j is not None:
            j.note(STEP, "verify", ok=report.ok, problems=len(report.problems), target=name)
        status = StepStatus.SUCCEEDED if report.ok else StepStatus.FAILED
        ctx.emit.result(
            status,
            f"{name}: {'complete' if report.ok else f'{len(report.problems)} problem(s)'} for release "
            f"{info.version} ({report.images} images)",
            {
                "ok": report.ok,
                "problems": [f"{p.image}: {p.what}" for p in report.problems],
                "digest": info.digest,
            },
        )
        return report
    finally:
        regs.close()


def iter_problems(report: VerifyReport) -> Iterator[str]:
    for p in report.problems:
        yield f"{p.image}: {p.what}"
