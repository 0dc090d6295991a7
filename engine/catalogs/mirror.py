"""Mirror a filtered operator catalog: the chosen packages and channels (default: what is installed), from the
installed version to each channel head, with their dependencies; validated before anything is built or copied;
the filtered index image built on the original's layers; every bundle image and related image copied by digest
(images the catalog names by tag keep their tag). Direct, to removable media and from it, with dry run, resume
(what is in the target is skipped) and verification — with the same copier as releases.

What oc-mirror and ``oc adm catalog mirror`` do is the model for the layout: an image ``<host>/<path>`` goes to
``<mirror registry>/<mirror.operators_prefix>/<path>``; the mirror configuration is an ImageDigestMirrorSet for
what is pulled by digest and an ImageTagMirrorSet for what is pulled by tag, one entry per repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.catalogs import fbc
from engine.catalogs import installed as inst
from engine.catalogs.index import OverlayStore, build_filtered, read_index
from engine.context import Context
from engine.errors import AirgapError, Cancelled, InputError, PreconditionFailed, RegistryError
from engine.events import CheckStatus, StepStatus
from engine.fsutil import atomic_write_text
from engine.journal import Journal, state_root
from engine.mirror.core import Copier, ImageJob, _journals, _registries
from engine.mirror.media import STATE_DIR, DirStore, check_free_space, check_media, write_checksums
from engine.mirror.verify import _verify_jobs
from engine.oci.registry import ImageStore, Reference, Registries, RetryPolicy, TransientError
from engine.plan import Plan
from engine.util import format_bytes, minor_of

STEP = "catalog"
MEDIA_DOC = "catalog.json"
FORMAT = "ocp-airgap/catalog-media-v1"


@dataclass
class CatalogOptions:
    index: str = ""
    """The source index image; default: ``endpoints.operator_index:v<target minor>``."""
    packages: list[str] = field(default_factory=list)
    """Packages to keep; empty: the installed ones (read from the cluster). ``NAME>=VERSION`` keeps the versions
    from VERSION to each channel head (oc-mirror's ``minVersion``): what the disconnected cluster runs, for a
    host that cannot read it (the connected side); plain ``NAME`` keeps the heads only unless it is installed."""
    channels: dict[str, list[str]] = field(default_factory=dict)
    to_dir: str = ""
    from_dir: str = ""
    dry_run: bool = False
    verify: bool = True
    concurrency: int = 0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    output_dir: str = ""
    progress_interval: float = 0.25

    @property
    def mode(self) -> str:
        return "to-media" if self.to_dir else "from-media" if self.from_dir else "direct"

    def follow_plan(self, plan: Plan) -> CatalogOptions:
        """With no media folder given, the plan's ``mirroring.mode`` decides (as for the release): to-media writes
        ``<mirroring.media_path>/catalog``, from-media uploads from it, direct copies registry to registry."""
        if self.to_dir or self.from_dir or plan.mirroring.mode == "direct":
            return self
        folder = media_folder(plan)
        if plan.mirroring.mode == "to-media":
            self.to_dir = folder
        elif plan.mirroring.mode == "from-media":
            self.from_dir = folder
        return self


MEDIA_FOLDER = "catalog"


def media_folder(plan: Plan) -> str:
    """Where the filtered catalog goes on the media: ``<mirroring.media_path>/catalog``, beside the release's
    ``mirror`` folder (each has its own ``v2/`` and checksum manifest)."""
    if not plan.mirroring.media_path:
        raise InputError(
            f"mirroring.mode is {plan.mirroring.mode} but no media folder is set",
            fix="Set mirroring.media_path in the plan, or give --to-dir/--from-dir.",
        )
    return os.path.join(plan.resolve_path(plan.mirroring.media_path), MEDIA_FOLDER)


@dataclass
class Image:
    source: str
    """As the catalog names it."""
    repository: str
    """Path below the prefix (the source path without its registry)."""
    digest: str
    tag: str = ""
    """Set when the catalog names the image by tag."""
    packages: list[str] = field(default_factory=list)
    kind: str = "related"


@dataclass
class CatalogResult:
    mode: str
    index_source: str
    index_digest: str = ""
    filtered_digest: str = ""
    target: str = ""
    packages: list[dict[str, Any]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    images_total: int = 0
    images_copied: int = 0
    bytes_copied: int = 0
    bytes_total: int = 0
    dry_run: bool = False
    verified: bool | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    mirrored_index: str = ""
    idms: list[dict[str, Any]] = field(default_factory=list)
    itms: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ----- helpers ---------------------------------------------------------------------------------------------
def default_index(ctx: Context, explicit: str = "") -> str:
    if explicit:
        return explicit
    minor = minor_of(ctx.plan.release.version)
    if minor is None:
        raise InputError(
            "no index image: give --index or set release.version in the plan (the index tag is v<minor>)",
            fix="Set release.version, e.g. 4.17.3, or pass --index <registry>/<repo>:<tag>.",
        )
    return f"{ctx.plan.endpoints.operator_index}:v{minor[0]}.{minor[1]}"


def _registries_with_index(ctx: Context, conc: int, index: str) -> Registries:
    regs = _registries(ctx, conc)
    ca = ctx.plan.endpoints.operator_index_ca_file
    if ca:
        host = Reference.parse(index).registry.lower()
        regs._ca.setdefault(host, (ctx.plan.resolve_path(ca), "endpoints.operator_index_ca_file"))
    return regs


def _strip_host(ref: Reference) -> str:
    return ref.repository


def target_repo(ctx: Context, path: str) -> str:
    prefix = ctx.plan.mirror.operators_prefix.strip("/")
    return f"{prefix}/{path}" if prefix else path


def read_catalog(ctx: Context, regs: Registries, index: str) -> tuple[Any, fbc.Catalog]:
    ref = Reference.parse(index)
    client = regs.get(ref.registry)
    ctx.emit.info(f"Reading the index image {index} …")
    idx = read_index(client, ref.repository, ref.ref, ctx.plan.release.architecture)
    cat = fbc.load_files(idx.files)
    inst.save_catalog(f"{ref.registry}/{ref.repository}", idx.digest, cat)
    ctx.emit.info(
        f"{index} = {idx.digest}: {len(cat.packages)} package(s) in {idx.configs_dir}, "
        f"{sum(len(p.bundles) for p in cat.packages.values())} bundle(s)"
    )
    return idx, cat


def split_package(text: str) -> tuple[str, str]:
    """``NAME`` or ``NAME>=VERSION`` (the version to keep from) as (name, version)."""
    name, sep, version = text.partition(">=")
    name, version = name.strip(), version.strip()
    if not name or (sep and not version):
        raise InputError(
            f"{text!r}: expected a package name, or NAME>=VERSION",
            fix="e.g. cluster-logging, or cluster-logging>=5.8.1 to keep every version from 5.8.1 to the head",
        )
    return name, version


def read_operators(
    ctx: Context, index: str = "", *, offline: bool = False
) -> tuple[str, fbc.Catalog | None, list[inst.Operator]]:
    """The installed operators assessed against the target, with the catalog to look compatible versions up in:
    the index image when it can be read (not ``offline``, nor on the disconnected side of the media, which
    cannot reach it), else the catalog read last on this host (a from-media upload saves the media's).
    Returns (where the catalog came from, the catalog or None, the operators)."""
    cat: fbc.Catalog | None = None
    source = ""
    if not offline and ctx.plan.mirroring.mode != "from-media":
        try:
            ref = default_index(ctx, index)
            regs = _registries_with_index(ctx, 2, ref)
            try:
                idx, cat = read_catalog(ctx, regs, ref)
                source = f"{ref}@{idx.digest}"
            finally:
                regs.close()
        except AirgapError as exc:
            ctx.emit.warning(
                f"the index image could not be read ({exc.message}); using the catalog read last"
            )
    if cat is None:
        saved = inst.load_saved_catalog()
        if saved:
            source, cat = saved
    return source, cat, inst.assess(ctx, ctx.plan.release.version, cat)


def selections(
    ctx: Context, cat: fbc.Catalog, options: CatalogOptions
) -> tuple[list[fbc.Selection], list[str]]:
    """What to keep: the given packages (heads only unless installed), or every installed operator from its
    installed version — plus, for one that blocks the target, the channel to update it through."""
    notes: list[str] = []
    installed: list[inst.Operator] = []
    try:
        installed = inst.list_operators(ctx)
    except AirgapError as exc:
        if not options.packages:
            raise InputError(
                f"cannot read the installed operators: {exc.message}",
                fix="Give the packages to mirror with --package NAME (as many times as needed).",
            ) from None
        notes.append(f"installed operators not read ({exc.message}); only the given packages are kept")
    by_pkg = {o.package: o for o in installed if o.subscription}
    min_versions = dict(split_package(p) for p in options.packages)
    wanted = list(min_versions) or sorted(by_pkg)
    if not options.packages:
        elsewhere = [p for p in wanted if p not in cat.packages]
        if (
            elsewhere
        ):  # installed from another catalog (certified, community, a custom one): not in this index
            notes.append(
                f"installed but not in this index (from another catalog): {', '.join(elsewhere)}; mirror their "
                "catalog separately with --index"
            )
            wanted = [p for p in wanted if p in cat.packages]
    if not wanted:
        raise InputError(
            "no operator is installed and no package was given",
            fix="Give the packages to mirror with --package NAME.",
        )
    out = []
    target = ctx.plan.release.version
    for name in wanted:
        op = by_pkg.get(name)
        chans = list(options.channels.get(name) or [])
        if op is not None and not chans:
            chans = [op.channel] if op.channel else []
            if op.blocks(target):
                sug = inst.suggest(op, cat, target)
                if sug and sug["channel"] not in chans:
                    chans.append(sug["channel"])
                    notes.append(
                        f"{name}: channel {sug['channel']} kept too: {op.csv} blocks {target} and "
                        f"{sug['bundle']} there does not"
                    )
        out.append(fbc.Selection(name, chans, min_versions.get(name) or (op.version if op else "")))
    return out, notes


def _collect_images(ctx: Context, cat: fbc.Catalog) -> list[Image]:
    by_key: dict[str, Image] = {}
    for pkg in cat.packages.values():
        for b in pkg.bundles.values():
            for i, src in enumerate(b.images()):
                ref = Reference.parse(src)
                key = f"{ref.registry}/{ref.repository}@{ref.digest}" if ref.digest else src
                img = by_key.get(key)
                if img is None:
                    img = Image(
                        src,
                        ref.repository,
                        ref.digest,
                        "" if ref.digest else ref.ref,
                        kind="bundle" if i == 0 else "related",
                    )
                    by_key[key] = img
                if pkg.name not in img.packages:
                    img.packages.append(pkg.name)
    return list(by_key.values())


def _mirror_sets(
    ctx: Context, images: list[Image], index_source: Reference
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    reg = ctx.plan.mirror.registry
    digest_repos: dict[str, str] = {}
    tag_repos: dict[str, str] = {}
    for img in images:
        ref = Reference.parse(img.source)
        src = f"{ref.registry}/{ref.repository}"
        dst = f"{reg}/{target_repo(ctx, ref.repository)}"
        (tag_repos if img.tag else digest_repos)[src] = dst
    src = f"{index_source.registry}/{index_source.repository}"
    digest_repos[src] = f"{reg}/{target_repo(ctx, index_source.repository)}"
    idms = [{"source": s, "mirrors": [m]} for s, m in sorted(digest_repos.items())]
    itms = [{"source": s, "mirrors": [m]} for s, m in sorted(tag_repos.items())]
    return idms, itms


def idms_yaml(entries: list[dict[str, Any]], name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "ImageDigestMirrorSet",
            "metadata": {"name": name},
            "spec": {"imageDigestMirrors": entries},
        },
        sort_keys=False,
    )


def itms_yaml(entries: list[dict[str, Any]], name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "ImageTagMirrorSet",
            "metadata": {"name": name},
            "spec": {"imageTagMirrors": entries},
        },
        sort_keys=False,
    )


def last_mirror_path() -> Path:
    return state_root() / "catalogs" / "last-mirror.json"


def load_last_mirror() -> dict[str, Any]:
    p = last_mirror_path()
    if not p.is_file():
        raise InputError(
            "no mirrored catalog is recorded on this host",
            fix="Mirror one first: ocp-airgap catalog mirror --plan P (or --from-dir on the disconnected side).",
        )
    data: dict[str, Any] = json.loads(p.read_text())
    return data


# ----- the operation ----------------------------------------------------------------------------------------
def mirror_catalog(ctx: Context, options: CatalogOptions | None = None) -> CatalogResult:
    options = options or CatalogOptions()
    plan = ctx.plan
    mode = options.mode
    if mode != "to-media":
        plan.require("mirror.registry")
    conc = options.concurrency or plan.mirroring.concurrency or 6
    started = time.monotonic()
    media = ""
    if mode != "direct":
        media = str(Path(options.to_dir or options.from_dir).expanduser().absolute())
    journals: list[Journal] = []
    staging_dir = ""
    try:
        if mode == "from-media":
            return _from_media(ctx, options, media, conc, started)
        index = default_index(ctx, options.index)
        regs = _registries_with_index(ctx, conc, index)
        try:
            idx, cat = read_catalog(ctx, regs, index)
            sels, notes = selections(ctx, cat, options)
            res = fbc.filter_catalog(cat, sels)
            notes += res.notes + [f"dependency kept: {d}" for d in res.added_dependencies]
            problems = fbc.validate(res.catalog)
            if problems:
                raise PreconditionFailed(
                    f"the filtered catalog is not valid, nothing was mirrored: {problems[0]}"
                    + (
                        f" (and {len(problems) - 1} more: {'; '.join(problems[1:4])})"
                        if len(problems) > 1
                        else ""
                    ),
                    fix="Choose other packages or channels (--package/--channel), or use an index image whose "
                    "catalog is valid; 'ocp-airgap catalog packages --plan P' lists what the index holds.",
                )
            for n in notes:
                ctx.emit.info(n)
            src_ref = Reference.parse(index)
            images = _collect_images(ctx, res.catalog)
            result = CatalogResult(
                mode,
                index,
                idx.digest,
                dry_run=options.dry_run,
                notes=notes,
                packages=fbc.summary(res.catalog),
            )
            idms, itms = _mirror_sets(ctx, images, src_ref)
            result.idms, result.itms = idms, itms
            # ----- the filtered index, built locally -----
            staging_dir = tempfile.mkdtemp(prefix="ocp-airgap-catalog-")
            staging = DirStore(staging_dir, fsync=False)
            built = build_filtered(idx, fbc.render(res.catalog), staging, src_ref.repository)
            result.filtered_digest = built.digest
            result.notes += built.notes
            ctx.emit.info(
                f"Filtered index image built: {built.digest} (+{format_bytes(built.layer_size)} catalog layer)"
            )
            index_store = OverlayStore(
                staging, src_ref.repository, regs.get(src_ref.registry), src_ref.repository
            )
            tag = src_ref.tag or "latest"
            target: ImageStore
            if mode == "to-media":
                Path(media).mkdir(parents=True, exist_ok=True)
                target = DirStore(media)
                result.target = f"file://{media}"
            else:
                target = regs.get(plan.mirror.registry)
                result.target = f"{plan.mirror.registry}/{target_repo(ctx, '')}".rstrip("/")
            jobs = []
            for img in images:
                ref = Reference.parse(img.source)
                store = regs.get(ref.registry)
                digest = img.digest
                if not digest:
                    found = store.head_manifest(ref.repository, img.tag)
                    if not found:
                        raise RegistryError(f"{img.source} (named by tag in the catalog) does not exist")
                    digest = found
                    img.digest = digest
                # on media the repositories are the source paths; the far side adds its own prefix
                dest = img.repository if mode == "to-media" else target_repo(ctx, img.repository)
                jobs.append(
                    ImageJob(
                        f"{','.join(img.packages)} {img.kind}",
                        store,
                        ref.repository,
                        digest,
                        dest,
                        img.tag or digest,
                    )
                )
            index_dest = src_ref.repository if mode == "to-media" else target_repo(ctx, src_ref.repository)
            index_job = ImageJob(
                "filtered index", index_store, src_ref.repository, built.digest, index_dest, tag
            )
            result.mirrored_index = (
                f"{plan.mirror.registry}/{target_repo(ctx, src_ref.repository)}@{built.digest}"
            )
            return _copy(
                ctx, options, result, jobs, index_job, target, images, media, conc, started, journals
            )
        finally:
            regs.close()
    except BaseException as exc:
        for jr in journals:
            with contextlib.suppress(Exception):
                jr.step_finished(
                    STEP,
                    "cancelled" if isinstance(exc, Cancelled | KeyboardInterrupt) else "failed",
                    str(exc) if isinstance(exc, AirgapError) else type(exc).__name__,
                )
        if isinstance(exc, TransientError):
            raise RegistryError(
                f"{exc.message} (still failing after {options.retry.attempts} attempts)",
                fix="Run the same command again: everything already copied is kept and skipped.",
            ) from None
        raise
    finally:
        if staging_dir:
            shutil.rmtree(staging_dir, ignore_errors=True)


def _sizes(jobs: list[ImageJob], images: list[Image], index_job: ImageJob) -> tuple[dict[str, int], int]:
    per: dict[str, dict[str, int]] = {}
    everything: dict[str, int] = {}
    by_digest = {(img.digest): img for img in images}
    for job in jobs + [index_job]:
        pkgs = (
            by_digest[job.digest].packages
            if job is not index_job and job.digest in by_digest
            else ["(index)"]
        )
        for b in job.blobs:
            everything[b.digest] = max(0, b.size)
            for p in pkgs:
                per.setdefault(p, {})[b.digest] = max(0, b.size)
        for m in job.manifests:
            everything[m.digest] = len(m.data)
    return {p: sum(v.values()) for p, v in sorted(per.items())}, sum(everything.values())


def _copy(
    ctx: Context,
    options: CatalogOptions,
    result: CatalogResult,
    jobs: list[ImageJob],
    index_job: ImageJob,
    target: ImageStore,
    images: list[Image],
    media: str,
    conc: int,
    started: float,
    journals: list[Journal],
) -> CatalogResult:
    copier = Copier(
        ctx, target, concurrency=conc, retry=options.retry, progress_interval=options.progress_interval
    )
    all_jobs = jobs + [index_job]
    ctx.emit.info(f"Checking {len(all_jobs)} images in {result.target} …")
    copier.plan(all_jobs, fetch_present=True)
    result.sizes, result.bytes_total = _sizes(jobs, images, index_job)
    for p, n in result.sizes.items():
        ctx.emit.info(f"  {p:<40} {format_bytes(n)}")
    needed = copier.needed_bytes(all_jobs)
    missing = [j for j in all_jobs if not j.present]
    result.images_total = len(all_jobs)
    ctx.emit.info(f"{len(missing)} of {len(all_jobs)} images to copy ({format_bytes(needed)} at most)")
    if options.dry_run:
        for j in missing:
            ctx.emit.info(f"would copy {j.source_repo}@{j.digest[:19]}… → {j.target_repo}:{j.tag[:19]}")
        result.seconds = time.monotonic() - started
        ctx.emit.result(
            StepStatus.SUCCEEDED,
            f"dry run: {len(missing)} of {len(all_jobs)} images ({format_bytes(needed)}) would be copied to "
            f"{result.target}; nothing was written",
            result.to_dict(),
        )
        return result
    if options.mode == "to-media":
        check_free_space(Path(media), needed + 1024 * 1024)
        removed = DirStore(media).remove_partials()
        if removed:
            ctx.emit.info(f"Removed {removed} partial file(s) left by an interrupted run.")
    journals[:] = _journals(ctx, media if options.mode == "to-media" else "")
    for jr in journals:
        jr.step_started(
            STEP,
            mode=options.mode,
            index=result.index_source,
            filtered=result.filtered_digest,
            target=result.target,
        )
    failures = copier.copy([jobs, [index_job]], needed)
    tracker = copier.tracker
    result.images_copied = len(missing)
    result.bytes_copied = tracker.bytes_moved if tracker else 0
    if failures:
        raise RegistryError(
            f"{len(failures)} image(s) could not be copied; first: {failures[0]}",
            fix="Fix the cause and run the same command again: everything already copied is kept and skipped.",
        )
    copied_now = [j for j in all_jobs if not j.present]
    if options.verify and copied_now:
        report = _verify_jobs(
            ctx, target, copied_now, deep=False, light=True, concurrency=conc, name=result.target, info=None
        )
        result.verified = not report.problems
        if report.problems:
            raise RegistryError(
                f"verification found {len(report.problems)} problem(s) in {result.target}; first: "
                f"{report.problems[0].image}: {report.problems[0].what}",
                fix="Run the same command again to copy what is missing.",
            )
    elif options.verify:
        ctx.emit.check(
            "catalog mirror contents",
            CheckStatus.PASS,
            f"all {len(all_jobs)} images already in {result.target} with the right digests",
        )
    result.seconds = time.monotonic() - started
    for jr in journals:  # before the media's checksum manifest is written: the journal is on the media
        jr.step_finished(
            STEP,
            "succeeded",
            _line(result),
            filtered=result.filtered_digest,
            mirrored_index=result.mirrored_index,
            sizes=result.sizes,
        )
    if options.mode == "to-media":
        _write_media(ctx, media, result, jobs, index_job, images)
    else:
        _write_cluster_files(ctx, options, result)
    ctx.emit.result(StepStatus.SUCCEEDED, _line(result), result.to_dict())
    return result


def _line(r: CatalogResult) -> str:
    return (
        f"catalog {r.filtered_digest[:19]}… with {len(r.packages)} package(s) in {r.target}: {r.images_copied} of "
        f"{r.images_total} image(s) copied ({format_bytes(r.bytes_copied)}, {format_bytes(r.bytes_total)} in all) in "
        f"{r.seconds:.1f} s" + ("; verified" if r.verified else "")
    )


def _write_cluster_files(ctx: Context, options: CatalogOptions, result: CatalogResult) -> None:
    out = Path(options.output_dir or (state_root() / "catalogs")).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    files = {"idms": out / "idms-operators.yaml", "itms": out / "itms-operators.yaml"}
    atomic_write_text(files["idms"], idms_yaml(result.idms, "ocp-airgap-operators"), mode=0o644)
    atomic_write_text(files["itms"], itms_yaml(result.itms, "ocp-airgap-operators"), mode=0o644)
    result.files.update({k: str(v) for k, v in files.items()})
    record = {
        "index_source": result.index_source,
        "index_digest": result.index_digest,
        "filtered_digest": result.filtered_digest,
        "mirrored_index": result.mirrored_index,
        "idms": result.idms,
        "itms": result.itms,
        "packages": [p["package"] for p in result.packages],
        "sizes": result.sizes,
    }
    atomic_write_text(last_mirror_path(), json.dumps(record, indent=1) + "\n", mode=0o644)
    result.files["record"] = str(last_mirror_path())
    ctx.emit.info(
        f"Mirror configuration written to {out} (apply it with 'ocp-airgap catalog apply --plan P')"
    )


def _write_media(
    ctx: Context,
    media: str,
    result: CatalogResult,
    jobs: list[ImageJob],
    index_job: ImageJob,
    images: list[Image],
) -> None:
    doc = {
        "format": FORMAT,
        "index_source": result.index_source,
        "index_digest": result.index_digest,
        "filtered_digest": result.filtered_digest,
        "index": {
            "repository": index_job.target_repo,
            "digest": index_job.digest,
            "tag": index_job.tag,
            "source": Reference.parse(result.index_source).repository,
        },
        "images": [
            {
                "repository": j.target_repo,
                "digest": j.digest,
                "tag": j.tag,
                "source": img.source,
                "packages": img.packages,
            }
            for j, img in zip(jobs, images, strict=True)
        ],
        "packages": result.packages,
        "sizes": result.sizes,
    }
    p = Path(media) / STATE_DIR / MEDIA_DOC
    atomic_write_text(p, json.dumps(doc, indent=1) + "\n", mode=0o644)
    out, n = write_checksums(Path(media), extra={"catalog": result.filtered_digest})
    result.files.update({"catalog": str(p), "checksums": str(out)})
    ctx.emit.info(f"Catalog description written to {p}; checksum manifest of {n} files: {out}")
    ctx.emit.info("On the disconnected side: ocp-airgap catalog mirror --plan P --from-dir " + media)


def _from_media(
    ctx: Context, options: CatalogOptions, media: str, conc: int, started: float
) -> CatalogResult:
    plan = ctx.plan
    doc_path = Path(media) / STATE_DIR / MEDIA_DOC
    if not doc_path.is_file():
        raise InputError(
            f"{media} holds no mirrored catalog (no {STATE_DIR}/{MEDIA_DOC})",
            fix="Give the folder written by 'ocp-airgap catalog mirror --to-dir' on the connected side.",
        )
    ctx.emit.info(f"Checking the media in {media} against its checksum manifest …")
    check = check_media(Path(media))
    if not check.ok:
        first = check.problems[0]
        raise InputError(
            f"the media in {media} is damaged: {first.path}: {first.problem} {first.detail}".rstrip(),
            fix="Write the media again on the connected side.",
        )
    doc = json.loads(doc_path.read_text())
    src = DirStore(media, fsync=False)
    # the filtered catalog itself, from the index image on the media: what 'catalog operators --offline',
    # preflight and 'catalog channel' look versions up in on this side
    ix = doc["index"]
    idx = read_index(src, ix["repository"], ix["digest"], plan.release.architecture)
    inst.save_catalog(doc["index_source"].rsplit(":", 1)[0], ix["digest"], fbc.load_files(idx.files))
    regs = _registries(ctx, conc)
    journals: list[Journal] = []
    try:
        target = regs.get(plan.mirror.registry)
        images, jobs = [], []
        for e in doc["images"]:
            ref = Reference.parse(e["source"])
            img = Image(
                e["source"], ref.repository, e["digest"], "" if ref.digest else ref.ref, list(e["packages"])
            )
            images.append(img)
            jobs.append(
                ImageJob(
                    ",".join(img.packages),
                    src,
                    e["repository"],
                    e["digest"],
                    target_repo(ctx, e["repository"]),
                    e["tag"],
                )
            )
        ix = doc["index"]
        index_job = ImageJob(
            "filtered index",
            src,
            ix["repository"],
            ix["digest"],
            target_repo(ctx, ix["repository"]),
            ix["tag"],
        )
        result = CatalogResult(
            "from-media",
            doc["index_source"],
            doc["index_digest"],
            doc["filtered_digest"],
            f"{plan.mirror.registry}/{target_repo(ctx, '')}".rstrip("/"),
            packages=doc.get("packages") or [],
        )
        src_ref = Reference.parse(doc["index_source"])
        result.idms, result.itms = _mirror_sets(ctx, images, src_ref)
        result.mirrored_index = f"{plan.mirror.registry}/{target_repo(ctx, ix['repository'])}@{ix['digest']}"
        result.dry_run = options.dry_run
        return _copy(ctx, options, result, jobs, index_job, target, images, "", conc, started, journals)
    finally:
        regs.close()
