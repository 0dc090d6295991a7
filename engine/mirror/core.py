"""The machinery every mirroring run shares: options and results, the image jobs, the copier (blobs once per
repository, mounted across repositories, streamed and digest-checked, retried), stores and credentials, the
journals and the records that make a second run fast and a failed verification repairable.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.authfile import AuthFile
from engine.context import Context
from engine.errors import (
    AirgapError,
    Cancelled,
    InputError,
    RegistryAuthError,
    RegistryDenied,
    RegistryError,
    RegistryNotFound,
    SignatureError,
    TLSError,
)
from engine.events import CheckStatus
from engine.fsutil import atomic_write_text
from engine.journal import Journal, state_root
from engine.mirror.media import (
    MEDIA_REPOSITORY,
    STATE_DIR,
    DirStore,
    FreeSpaceProbe,
    check_media,
    free_space,
    signature_file_name,
)
from engine.oci.payload import Component, ReleaseInfo, read_release
from engine.oci.registry import (
    Descriptor,
    ImageStore,
    Manifest,
    Reference,
    Registries,
    RegistryClient,
    RetryPolicy,
    TransientError,
    with_retries,
)
from engine.plan import DEFAULT_COMPONENT_SOURCE, Plan
from engine.util import format_bytes

STEP = "mirror"


FATAL = (RegistryAuthError, RegistryDenied, TLSError, Cancelled, TransientError)


# ----- options and results -----------------------------------------------------------------------------
@dataclass
class MirrorOptions:
    to_dir: str = ""
    """Write to removable media (the folder that gets ``v2/``)."""
    from_dir: str = ""
    """Upload from removable media to the mirror registry."""
    dry_run: bool = False
    verify: bool = True
    """Verify the target after copying."""
    signature: bool = True
    """Fetch the release signature (to media: required; direct: best effort)."""
    concurrency: int = 0
    """0 = the plan's mirroring.concurrency."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    free_space_probe: FreeSpaceProbe = free_space
    output_dir: str = ""
    """Where the ICSP/IDMS files go; default: the state folder."""
    progress_interval: float = 0.25

    @property
    def mode(self) -> str:
        return "to-media" if self.to_dir else "from-media" if self.from_dir else "direct"


@dataclass
class MirrorSummary:
    mode: str
    release: ReleaseInfo
    target: str
    images_total: int = 0
    images_copied: int = 0
    images_skipped: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_skipped: int = 0
    bytes_needed: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    verified: bool | None = None
    files: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    sigstore: dict[str, Any] = field(default_factory=dict)
    """The release's Sigstore signature as checked in the target (engine.sigstore.SigstoreResult)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "version": self.release.version,
            "digest": self.release.digest,
            "release_tag": self.release.tag,
            "target": self.target,
            "images_total": self.images_total,
            "images_copied": self.images_copied,
            "images_skipped": self.images_skipped,
            "blobs_copied": self.blobs_copied,
            "blobs_mounted": self.blobs_mounted,
            "blobs_skipped": self.blobs_skipped,
            "bytes_needed": self.bytes_needed,
            "bytes_copied": self.bytes_copied,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "verified": self.verified,
            "files": dict(self.files),
            "failures": list(self.failures),
            "sigstore": dict(self.sigstore),
        }


@dataclass
class ImageJob:
    name: str
    """'release', a component name, or 'release (OSUS)'."""
    source: ImageStore
    source_repo: str
    digest: str
    target_repo: str
    tag: str
    present: bool = False
    manifests: list[Manifest] = field(default_factory=list)
    """Children first, the top manifest last."""
    blobs: list[Descriptor] = field(default_factory=list)

    @property
    def top(self) -> Manifest:
        return self.manifests[-1]


@dataclass
class VerifyProblem:
    image: str
    what: str


@dataclass
class VerifyReport:
    target: str
    release: ReleaseInfo | None
    images: int = 0
    blobs: int = 0
    problems: list[VerifyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.release is not None


# ----- progress ------------------------------------------------------------------------------------------
class _Tracker:
    def __init__(self, ctx: Context, images_total: int, bytes_total: int, interval: float) -> None:
        self.ctx = ctx
        self.images_total = images_total
        self.bytes_total = bytes_total
        self.images_done = 0
        self.bytes_done = 0
        self.bytes_moved = 0
        self.current = ""
        self.interval = interval
        self._lock = threading.Lock()
        self._last = 0.0
        self._started = time.monotonic()
        self.retries = 0
        self._window: list[tuple[float, int]] = [(self._started, 0)]
        """(time, bytes moved) samples of the last RATE_WINDOW seconds: the current rate."""

    RATE_WINDOW = 5.0

    def add(self, n: int, *, moved: bool = True) -> None:
        with self._lock:
            self.bytes_done += n
            if moved:
                self.bytes_moved += n
        self.tick()

    def retried(self) -> None:
        with self._lock:
            self.retries += 1
        self.tick()

    def image(self, name: str, done: bool = False) -> None:
        with self._lock:
            self.current = name
            if done:
                self.images_done += 1
        self.tick(force=done and self.images_done == self.images_total)

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self.interval:
                return
            self._last = now
            self._window.append((now, self.bytes_moved))
            while len(self._window) > 2 and now - self._window[1][0] >= self.RATE_WINDOW:
                self._window.pop(0)
            t0, b0 = self._window[0]
            span = now - t0
            rate = (self.bytes_moved - b0) / span if span > 0.5 and self.bytes_moved > b0 else None
            left = max(0, self.bytes_total - self.bytes_done)
            eta = left / rate if rate else None
            images_done, bytes_done, current = self.images_done, self.bytes_done, self.current
            retries = self.retries
        emit = self.ctx.emit
        emit.progress(images_done, self.images_total, "images", current)
        if self.bytes_total:
            emit.progress(
                bytes_done, self.bytes_total, "bytes", current, rate=rate, eta_seconds=eta, retries=retries
            )


class _Counting:
    """Pass chunks through, reporting their sizes (progress)."""

    def __init__(self, chunks: Iterator[bytes], on_bytes: Callable[[int], None]) -> None:
        self._it = chunks
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._it)
        self._on_bytes(len(chunk))
        return chunk


# ----- the copier ----------------------------------------------------------------------------------------
class Copier:
    """Copies planned images into ``target``, each blob at most once per target repository."""

    def __init__(
        self,
        ctx: Context,
        target: ImageStore,
        *,
        concurrency: int,
        retry: RetryPolicy,
        progress_interval: float = 0.25,
    ) -> None:
        self.ctx = ctx
        self.target = target
        self.concurrency = max(1, concurrency)
        self.retry = retry
        self.progress_interval = progress_interval
        self._blob_futures: dict[tuple[str, str], Future[str]] = {}
        self._have: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._fatal: BaseException | None = None
        self.stats = {"copied": 0, "mounted": 0, "skipped": 0}
        self.tracker: _Tracker | None = None

    def _cancelled(self) -> bool:
        return self._stop.is_set() or self.ctx.cancel.is_set()

    def link_retry(self, text: str) -> None:
        """A registry client resumed or retried a transfer on its own (a cut mid-blob, a 429)."""
        if self.tracker is not None:
            self.tracker.retried()
        self.ctx.emit.warning(text)

    def _retry(self, fn: Callable[[], Any], what: str) -> Any:
        def on_retry(attempt: int, exc: TransientError, delay: float) -> None:
            if self.tracker is not None:
                self.tracker.retried()
            self.ctx.emit.warning(f"{what}: {exc.message}; retrying in {delay:.1f} s (attempt {attempt + 1})")

        return with_retries(fn, policy=self.retry, cancel=self._stop_event(), on_retry=on_retry)

    def _stop_event(self) -> threading.Event:
        # one event that is set on either a user cancel or a fatal error
        if self.ctx.cancel.is_set():
            self._stop.set()
        return self._stop

    # ----- planning ------------------------------------------------------------------------------------
    def plan(
        self,
        jobs: list[ImageJob],
        *,
        fetch_present: bool = False,
        verified: Mapping[str, str] | None = None,
        repair: set[str] | None = None,
    ) -> None:
        """Find what is already in the target and read the manifests of what is not (in parallel).

        ``verified`` is the record of the last verified run into this target (``repo:tag`` → digest): a tag the
        registry still lists and that run verified at the same digest is not looked up again (one tags-list
        request per repository instead of one lookup per image). Anything else is looked up by tag.
        ``repair`` names images (``repo:tag``) a verification found incomplete: they are copied again (blobs
        already there are still skipped), even though their tag is in place."""
        listed: dict[str, set[str]] = {}
        if verified and isinstance(self.target, RegistryClient):
            for repo in sorted({j.target_repo for j in jobs}):
                listed[repo] = set(self._retry(lambda r=repo: self.target.list_tags(r), "listing tags"))  # type: ignore[misc]

        def one(job: ImageJob) -> None:
            self._check_stop()
            key = f"{job.target_repo}:{job.tag}"
            if repair and key in repair:
                job.present = False
            elif verified and job.tag in listed.get(job.target_repo, ()) and verified.get(key) == job.digest:
                job.present = True
            else:
                have = self._retry(
                    lambda: self.target.head_manifest(job.target_repo, job.tag), f"checking {job.tag}"
                )
                job.present = have == job.digest
            if job.present and not fetch_present:
                return
            self._load_manifests(job)

        self._run_all(jobs, one)

    def _load_manifests(self, job: ImageJob) -> None:
        top = self._retry(lambda: job.source.get_manifest(job.source_repo, job.digest), f"reading {job.name}")
        manifests: list[Manifest] = []
        blobs: dict[str, Descriptor] = {}
        if top.is_index:
            for child in top.children():
                m = self._retry(
                    lambda c=child: job.source.get_manifest(job.source_repo, c.digest),  # type: ignore[misc]
                    f"reading {job.name}",
                )
                manifests.append(m)
                for b in m.blobs():
                    blobs.setdefault(b.digest, b)
        else:
            for b in top.blobs():
                blobs.setdefault(b.digest, b)
        manifests.append(top)
        job.manifests = manifests
        job.blobs = list(blobs.values())

    def _run_all(self, jobs: list[ImageJob], fn: Callable[[ImageJob], None]) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mirror-plan") as pool:
            futures = [pool.submit(fn, j) for j in jobs]
            self._gather(futures)

    def _gather(self, futures: list[Future[Any]]) -> list[BaseException]:
        errors: list[BaseException] = []
        for f in futures:
            try:
                f.result()
            except FATAL as exc:
                self._set_fatal(exc)
            except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)
        if self._fatal is not None:
            raise self._fatal
        if self.ctx.cancel.is_set():
            raise Cancelled()
        if errors:
            raise errors[0]
        return errors

    def _set_fatal(self, exc: BaseException) -> None:
        with self._lock:
            if self._fatal is None:
                self._fatal = exc
        self._stop.set()

    def _check_stop(self) -> None:
        if self.ctx.cancel.is_set():
            self._stop.set()
            raise Cancelled()
        if self._stop.is_set():
            raise Cancelled("stopped after an earlier error")

    # ----- copying -------------------------------------------------------------------------------------
    def needed_bytes(self, jobs: list[ImageJob]) -> int:
        seen: set[tuple[str, str]] = set()
        total = 0
        for job in jobs:
            if job.present:
                continue
            for b in job.blobs:
                key = (job.target_repo, b.digest)
                if key not in seen:
                    seen.add(key)
                    total += max(0, b.size)
        return total

    def copy(self, groups: list[list[ImageJob]], bytes_total: int) -> list[str]:
        """Copy every group of jobs in order (the release image after its components). Returns failures
        (one line each) of images that could not be copied; fatal errors are raised."""
        total = sum(len(g) for g in groups)
        self.tracker = _Tracker(self.ctx, total, bytes_total, self.progress_interval)
        self.tracker.tick(force=True)
        failures: list[str] = []
        with (
            ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mirror-blob") as blob_pool,
            ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mirror-image") as image_pool,
        ):
            self._blob_pool = blob_pool
            for group in groups:
                futures = {image_pool.submit(self._copy_image, job): job for job in group}
                for f, job in futures.items():
                    try:
                        f.result()
                    except FATAL as exc:
                        self._set_fatal(exc)
                    except AirgapError as exc:
                        failures.append(f"{job.name} ({job.tag}): {exc.message}")
                        self.ctx.emit.error(f"could not copy {job.tag}: {exc.message}")
                if self._fatal is not None:
                    raise self._fatal
                if self.ctx.cancel.is_set():
                    raise Cancelled()
                if failures:
                    break  # the release image must not be pushed when a component is missing
        self.tracker.tick(force=True)
        return failures

    def _copy_image(self, job: ImageJob) -> None:
        tracker = self.tracker
        assert tracker is not None
        self._check_stop()
        if job.present:
            self.ctx.emit.info(f"skipped {job.tag}: already in the target ({job.digest[:19]}…)")
            tracker.image(job.name, done=True)
            return
        if not job.manifests:
            self._load_manifests(job)
        tracker.image(job.name)
        futures = [self._blob_future(job, b) for b in job.blobs]
        for f in futures:
            f.result()
        for child in job.manifests[:-1]:

            def put_child(m: Manifest = child) -> None:
                self.target.put_manifest(job.target_repo, m.digest, m)

            self._retry(put_child, f"writing {job.tag}")
        self._retry(lambda: self.target.put_manifest(job.target_repo, job.tag, job.top), f"writing {job.tag}")
        size = sum(max(0, b.size) for b in job.blobs)
        self.ctx.emit.info(f"copied {job.tag} ({job.name}) {job.digest[:19]}… {format_bytes(size)}")
        tracker.image(job.name, done=True)

    def _blob_future(self, job: ImageJob, blob: Descriptor) -> Future[str]:
        key = (job.target_repo, blob.digest)
        with self._lock:
            fut = self._blob_futures.get(key)
            if fut is None:
                fut = self._blob_pool.submit(self._copy_blob, job, blob)
                self._blob_futures[key] = fut
        return fut

    def _mount_candidates(self, job: ImageJob, digest: str) -> list[str]:
        with self._lock:
            out = [r for r in self._have.get(digest, set()) if r != job.target_repo]
        if job.source is self.target and job.source_repo != job.target_repo:
            out.insert(0, job.source_repo)
        return out

    def _copy_blob(self, job: ImageJob, blob: Descriptor) -> str:
        tracker = self.tracker
        assert tracker is not None
        repo, digest = job.target_repo, blob.digest

        def once() -> str:
            self._check_stop()
            location = ""
            candidates = self._mount_candidates(job, digest)
            if isinstance(self.target, RegistryClient):
                # one request: "mount it from where it is known to be (or from here: is it here already?)";
                # if not, the same request opened the upload session
                source_repo = candidates[0] if candidates else repo
                found = self.target.mount_or_start(repo, digest, source_repo)
                if found is None:
                    tracker.add(max(0, blob.size), moved=False)
                    return "mounted" if candidates else "skipped"
                location = found
            else:
                if self.target.blob_size(repo, digest) is not None:
                    tracker.add(max(0, blob.size), moved=False)
                    return "skipped"
                for from_repo in candidates:
                    if self.target.mount_blob(repo, digest, from_repo):
                        tracker.add(max(0, blob.size), moved=False)
                        return "mounted"
            counted = 0

            def on_bytes(n: int) -> None:
                nonlocal counted
                counted += n
                tracker.add(n)

            try:
                with job.source.open_blob(job.source_repo, digest) as chunks:
                    counting = _Counting(chunks, on_bytes)  # push_blob hashes; this only counts
                    if location and isinstance(self.target, RegistryClient):
                        self.target.push_blob(repo, digest, blob.size, counting, location=location)
                    else:
                        self.target.push_blob(repo, digest, blob.size, counting)
            except BaseException:
                tracker.add(-counted)
                raise
            return "copied"

        try:
            how: str = self._retry(once, f"copying blob {digest[:19]}… of {job.name}")
        except FATAL as exc:
            self._set_fatal(exc)
            raise
        with self._lock:
            self._have.setdefault(digest, set()).add(repo)
            self.stats[how] += 1
        return how


# ----- stores and credentials ----------------------------------------------------------------------------
def _auth(ctx: Context) -> AuthFile:
    plan = ctx.plan
    auth = AuthFile.discover(plan.resolve_path(plan.auth_file))
    reg = plan.mirror.registry
    if reg and plan.mirror.username and auth.lookup(reg, plan.mirror.repository) is None:
        try:
            from engine.credentials import mirror_password

            password = mirror_password(ctx)
        except (AirgapError, ImportError):
            password = ""
        if password:
            auth = auth.with_login(
                reg, plan.mirror.username, password, source="the keyring / mirror.password_file"
            )
    return auth


def _registries(ctx: Context, concurrency: int) -> Registries:
    plan = ctx.plan
    cas: dict[str, tuple[str, str]] = {}
    for src in {plan.endpoints.release_source, plan.endpoints.component_source}:
        host = src.split("/", 1)[0].lower()
        if plan.endpoints.source_ca_file:
            cas[host] = (plan.resolve_path(plan.endpoints.source_ca_file), "endpoints.source_ca_file")
    if plan.mirror.registry:
        cas[plan.mirror.registry.lower()] = (plan.resolve_path(plan.mirror.ca_file), "mirror.ca_file")
    mi = plan.mirroring
    return Registries(
        _auth(ctx),
        ca_files=cas,
        max_concurrency=concurrency,
        timeout=float(mi.stall_timeout),
        upload_chunk=mi.upload_chunk_mb * 1024 * 1024,
    )


def media_dir(plan: Plan, explicit: str = "") -> str:
    """The folder holding ``v2/``: the one given, else ``<mirroring.media_path>/mirror`` (as the docs do)."""
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    if not plan.mirroring.media_path:
        raise InputError(
            "no media folder: give --to-dir/--from-dir or set mirroring.media_path in the plan",
            fix="Set mirroring.media_path (REMOVABLE_MEDIA_PATH) in the plan.",
        )
    return os.path.join(plan.resolve_path(plan.mirroring.media_path), "mirror")


def component_source(plan: Plan, comp: Component) -> Reference:
    """Where to pull a component from: as written in image-references, except that the official component
    repository — or the same repository path on another host (a proxy or a nearer copy of it) — is replaced by
    the plan's ``endpoints.component_source`` when that differs."""
    ref = comp.reference
    wanted = plan.endpoints.component_source
    same_repo = ref.repository == wanted.split("/", 1)[-1] and ref.repo_path != wanted
    if (ref.repo_path == DEFAULT_COMPONENT_SOURCE and wanted != DEFAULT_COMPONENT_SOURCE) or same_repo:
        src = Reference.parse(plan.endpoints.component_source + "@" + ref.digest)
        return src
    return ref


def _cache_path(digest: str, arch: str) -> Path:
    return state_root() / "mirror" / "releases" / f"{digest.split(':', 1)[1]}-{arch or 'any'}.json"


def _read_release_cached(store: ImageStore, repo: str, ref: str, arch: str, *, cache: bool) -> ReleaseInfo:
    digest = ref if ref.startswith("sha256:") else None
    if cache:
        digest = digest or store.head_manifest(repo, ref)
        if digest is None:
            store.get_manifest(repo, ref)  # raises the plain 404 error
        if digest:
            p = _cache_path(digest, arch)
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                info = ReleaseInfo.from_dict(json.loads(p.read_text()))
                info.pullspec = f"{store.name}/{repo}@{info.digest}"
                return info
    info = read_release(store, repo, digest or ref, architecture=arch)
    if cache:
        with contextlib.suppress(OSError):
            atomic_write_text(
                _cache_path(digest or info.digest, arch), json.dumps(info.to_dict()) + "\n", mode=0o644
            )
    return info


def _media_release_tag(store: DirStore, plan: Plan) -> str:
    """The release tag on media: the plan's ``<version>-<arch>``, else the only release-looking tag."""
    tags = store.list_tags(MEDIA_REPOSITORY)
    if not tags:
        raise RegistryNotFound(
            f"{store.root} holds no release (no tags under v2/{MEDIA_REPOSITORY}/manifests)",
            fix="Check the folder: it must be the one written by 'ocp-airgap mirror --to-dir' or "
            "'oc adm release mirror --to-dir' on the connected side.",
        )
    if plan.release.version:
        for cand in (plan.release_tag, plan.release.version):
            if cand in tags:
                return cand
        raise RegistryNotFound(
            f"{store.root} has no release {plan.release_tag} (it has {', '.join(t for t in tags if _is_release_tag(t)) or 'none'})",
            fix="Set release.version/architecture in the plan to the release on the media.",
        )
    found = [t for t in tags if _is_release_tag(t)]
    if len(found) != 1:
        raise InputError(
            f"{store.root} holds {len(found)} releases; the plan must name one",
            fix="Set release.version and release.architecture in the plan.",
        )
    return found[0]


def _is_release_tag(tag: str) -> bool:
    return bool(
        re.match(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?-(x86_64|aarch64|s390x|ppc64le|multi)$", tag)
    ) or bool(re.match(r"^\d+\.\d+\.\d+$", tag))


# ----- journaling -----------------------------------------------------------------------------------------
def _cluster_journal(ctx: Context) -> Journal | None:
    """This host's journal: the connected side's own (no cluster needed), else the cluster's, only when the plan's
    kubeconfig exists (mirroring may run far from the cluster)."""
    from engine.workflow import CONNECTED, role_of

    if role_of(ctx.plan) == CONNECTED:
        return ctx.journal
    try:
        # the same lookup as engine.cluster.kubeconfig_path, without importing the kubernetes client
        given = ctx.plan.resolve_path(ctx.plan.cluster.kubeconfig)
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        path = os.path.expanduser(given or env or "~/.kube/config")
        if not Path(path).is_file():
            return None
        return ctx.journal
    except (AirgapError, OSError, ValueError, KeyError, TypeError) as exc:
        ctx.emit.debug(f"not journaling the mirror run for the cluster: {exc}")
        return None


def _journals(ctx: Context, media: str = "") -> list[Journal]:
    out = []
    j = _cluster_journal(ctx)
    if j is not None:
        out.append(j)
    if media:
        out.append(Journal(Path(media) / STATE_DIR / "journal.json", cluster="removable-media"))
    return out


# ----- the operation ----------------------------------------------------------------------------------
def _concurrency(ctx: Context, options: MirrorOptions) -> int:
    return options.concurrency or ctx.plan.mirroring.concurrency or 6


def _require(plan: Plan, mode: str) -> None:
    names: list[str] = ["release.version"]
    if mode in ("direct", "from-media"):
        names += ["mirror.registry", "mirror.repository"]
    plan.require(*names)


def _build_jobs(
    plan: Plan,
    info: ReleaseInfo,
    *,
    release_store: ImageStore,
    release_repo: str,
    component_store: Callable[[Component], tuple[ImageStore, str, str]],
    target_repo: str,
) -> tuple[list[ImageJob], ImageJob]:
    comps = []
    for comp in info.components:
        store, repo, digest = component_store(comp)
        comps.append(ImageJob(comp.name, store, repo, digest, target_repo, info.component_tag(comp.name)))
    release = ImageJob("release", release_store, release_repo, info.digest, target_repo, info.tag)
    return comps, release


def _check_media_first(ctx: Context, media: str) -> None:
    ctx.emit.info(f"Checking the media in {media} against its checksum manifest …")

    def progress(done: int, total: int, rel: str) -> None:
        ctx.emit.progress(done, total, "bytes", "checking media")

    check = check_media(Path(media), on_progress=progress)
    if not check.had_manifest:
        ctx.emit.warning(
            "the media has no ocp-airgap checksum manifest (written by oc?); every blob is still checked by digest "
            "while uploading"
        )
        return
    if not check.ok:
        for p in check.problems[:50]:
            ctx.emit.check(
                f"media file {p.path}", CheckStatus.FAIL, f"{p.problem}{': ' + p.detail if p.detail else ''}"
            )
        kinds: dict[str, int] = {}
        for p in check.problems:
            kinds[p.problem] = kinds.get(p.problem, 0) + 1
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        raise RegistryError(
            f"the media is incomplete or damaged ({what}; first: {check.problems[0].path}); nothing was uploaded",
            fix="Write the media again on the connected side (ocp-airgap mirror --to-dir ... resumes and "
            "rewrites only what is missing), or copy the damaged files again.",
        )
    ctx.emit.check(
        "media checksums", CheckStatus.PASS, f"{check.files} files, {format_bytes(check.bytes)} intact"
    )


def _fetch_signature(ctx: Context, info: ReleaseInfo, *, required: bool) -> tuple[str, dict[str, Any]] | None:
    plan = ctx.plan
    try:
        from engine import signatures

        sigs = signatures.fetch_signatures(
            plan.endpoints.signature_store, info.digest, ca_file=plan.resolve_path(plan.endpoints.ca_file)
        )
        cm = signatures.configmap_for_digest(info.digest, sigs)
    except (AirgapError, ImportError) as exc:
        text = exc.message if isinstance(exc, AirgapError) else str(exc)
        if required:
            raise SignatureError(
                f"cannot get the release signature for the media: {text}",
                fix="Fix endpoints.signature_store (or its CA) in the plan; or, knowingly, run with --no-signature "
                "and carry the signature ConfigMap separately.",
            ) from None
        ctx.emit.warning(f"release signature not fetched: {text}")
        return None
    ctx.emit.info(f"Fetched {len(sigs)} release signature(s) for {info.digest}")
    return signature_file_name(info.digest), cm


def _media_extra(info: ReleaseInfo) -> dict[str, Any]:
    return {
        "release": {
            "version": info.version,
            "digest": info.digest,
            "tag": info.tag,
            "repository": MEDIA_REPOSITORY,
        }
    }


def _save_run(plan: Plan, summary: MirrorSummary, media: str) -> None:
    d = Path(media) / STATE_DIR if media else state_root() / "mirror" / "runs"
    key = "last-run" if media else re.sub(r"[^A-Za-z0-9._-]+", "_", summary.target)
    with contextlib.suppress(OSError):
        atomic_write_text(d / f"{key}.json", json.dumps(summary.to_dict(), indent=1) + "\n", mode=0o644)


def _verified_path(target_name: str) -> Path:
    return state_root() / "mirror" / "verified" / (re.sub(r"[^A-Za-z0-9._-]+", "_", target_name) + ".json")


def _load_verified(target_name: str) -> dict[str, str]:
    """``repo:tag`` → digest of what earlier runs verified in this target (empty if unknown or unreadable)."""
    try:
        doc = json.loads(_verified_path(target_name).read_text())
    except (OSError, ValueError):
        return {}
    tags = doc.get("tags") if isinstance(doc, dict) else None
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def _repair_path(target_name: str) -> Path:
    return _verified_path(target_name).with_suffix(".repair.json")


def _load_repair(target_name: str) -> set[str]:
    try:
        doc = json.loads(_repair_path(target_name).read_text())
    except (OSError, ValueError):
        return set()
    return {str(x) for x in doc} if isinstance(doc, list) else set()


def _save_repair(target_name: str, report: VerifyReport) -> None:
    """Remember the images a verification found incomplete (the next mirror run copies them again) and forget
    the verified record of this target."""
    images = _load_repair(target_name) | {
        p.image for p in report.problems if not p.image.startswith("media ")
    }
    with contextlib.suppress(OSError):
        atomic_write_text(_repair_path(target_name), json.dumps(sorted(images)) + "\n", mode=0o644)
    with contextlib.suppress(FileNotFoundError):
        _verified_path(target_name).unlink()


def _clear_repair(target_name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _repair_path(target_name).unlink()


def _save_verified(target_name: str, jobs: list[ImageJob]) -> None:
    record = _load_verified(target_name)
    record.update({f"{j.target_repo}:{j.tag}": j.digest for j in jobs})
    doc = {"target": target_name, "tags": record}
    with contextlib.suppress(OSError):
        atomic_write_text(_verified_path(target_name), json.dumps(doc, indent=0) + "\n", mode=0o644)
