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
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine import mirror_commands
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
from engine.events import CheckStatus, StepStatus
from engine.fsutil import atomic_write_text
from engine.journal import Journal, state_root
from engine.media import (
    MEDIA_REPOSITORY,
    STATE_DIR,
    DirStore,
    FreeSpaceProbe,
    check_free_space,
    check_media,
    find_signature_file,
    free_space,
    human_bytes,
    signature_file_name,
    write_checksums,
)
from engine.payload import Component, ReleaseInfo, read_release
from engine.plan import DEFAULT_COMPONENT_SOURCE, Plan
from engine.registry import (
    Descriptor,
    HashingIterator,
    ImageStore,
    Manifest,
    Reference,
    Registries,
    RegistryClient,
    RetryPolicy,
    TransientError,
    with_retries,
)

STEP = "mirror"
FATAL = (RegistryAuthError, RegistryDenied, TLSError, Cancelled, TransientError)
"""Errors that stop the whole run at once: every other image would fail the same way (a registry that is still
unreachable after the retries included: the next run resumes)."""


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
        self.ctx.emit.info(f"copied {job.tag} ({job.name}) {job.digest[:19]}… {human_bytes(size)}")
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
    """The cluster's journal, only when the plan's kubeconfig exists (mirroring may run far from the cluster)."""
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
        regs.set_hooks(on_retry=copier.link_retry, on_notice=ctx.emit.warning, retry=options.retry)
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
            f"{len(missing)} of {len(all_jobs)} images to copy ({human_bytes(needed)} at most; blobs already in "
            "the target are skipped)"
        )
        if options.dry_run:
            for j in missing:
                ctx.emit.info(
                    f"would copy {j.tag} ({j.name}) {human_bytes(sum(max(0, b.size) for b in j.blobs))}"
                )
            if osus_job:
                ctx.emit.command(mirror_commands.image_mirror_osus(plan, dry_run=True))
            summary.images_skipped = len(all_jobs) - len(missing)
            summary.seconds = time.monotonic() - started
            ctx.emit.result(
                StepStatus.SUCCEEDED,
                f"dry run: {len(missing)} of {len(all_jobs)} images ({human_bytes(needed)}) would be copied to "
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
                    STEP, status, str(exc) if isinstance(exc, AirgapError) else type(exc).__name__
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
        f"{human_bytes(s.bytes_copied)} in {s.seconds:.1f} s ({human_bytes(rate)}/s)"
        + ("; verified" if s.verified else "")
    )


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
        "media checksums", CheckStatus.PASS, f"{check.files} files, {human_bytes(check.bytes)} intact"
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
        report = _verify_jobs(ctx, target, jobs, deep=deep, concurrency=conc, name=name, info=info)
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


__all__ = [
    "Copier",
    "ImageJob",
    "MirrorOptions",
    "MirrorSummary",
    "VerifyReport",
    "component_source",
    "icsp_instructions",
    "icsp_yaml",
    "idms_instructions",
    "idms_yaml",
    "media_dir",
    "mirror_release",
    "mirror_sources",
    "output_dir",
    "verify_mirror",
    "write_mirror_config",
]
