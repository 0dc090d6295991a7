"""Mirroring over bad links: the lab's link shaper between the engine and real registries.

Each test injects one fault the way a real network or proxy produces it, mirrors the release through it, and
ends with ``mirror verify`` against the registry itself (not through the shaper)."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.events import Progress
from engine.mirror import MirrorOptions, mirror_release, verify_mirror
from engine.oci.registry import RetryPolicy
from engine.plan import Plan
from sandbox.shaper import Faults, Link, Rule, Shaper
from tests.mirror.conftest import auth_entry, context

pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None or shutil.which("skopeo") is None,
    reason="docker-registry and skopeo are needed",
)
RETRY = RetryPolicy(attempts=6, base_delay=0.05, max_delay=0.5)


@pytest.fixture
def shapers() -> Iterator[list[Shaper]]:
    made: list[Shaper] = []
    yield made
    for s in made:
        s.stop()


def _upstream_shaper(sandbox: Any, shapers: list[Shaper], faults: Faults, link: Link | None = None) -> Shaper:
    pki = Path(sandbox.directory) / "pki"
    s = Shaper(
        f"https://{sandbox.upstream.registry}",
        tls=(pki / "upstream-registry.crt", pki / "upstream-registry.key"),
        upstream_ca=sandbox.upstream.ca_file,
        link=link,
        faults=faults,
        max_seconds=300,
        log_file=Path(sandbox.directory).parent / f"shaper-{len(shapers)}.log",
    ).start()
    shapers.append(s)
    return s


def _target_shaper(target: Any, pki: Any, shapers: list[Shaper], faults: Faults) -> Shaper:
    s = Shaper(
        f"https://{target.host}",
        tls=(pki.server.cert, pki.server.key),
        upstream_ca=target.ca_file,
        faults=faults,
        max_seconds=300,
    ).start()
    shapers.append(s)
    return s


def _through(plan: Plan, tmp_path: Path, sandbox: Any, *, source: Shaper | None = None, mirror: Shaper | None = None,
             target: Any = None, **fields: Any) -> Plan:  # fmt: skip
    """A copy of ``plan`` that reaches the upstream and/or the mirror through shapers."""
    p = Plan.load(plan.source_path)
    extra: dict[str, dict[str, str]] = {}
    if source is not None:
        up = sandbox.upstream
        p.endpoints.release_source = up.release_repository.replace(up.registry, source.host)
        p.endpoints.component_source = up.component_repository.replace(up.registry, source.host)
        pull = json.loads(Path(sandbox.pull_secret).read_text())["auths"][up.registry]
        extra[source.host] = pull
    if mirror is not None:
        p.mirror.registry = mirror.host
        extra[mirror.host] = auth_entry(target.user, target.password)
    if target is not None:
        extra[target.host] = auth_entry(target.user, target.password)
    doc = json.loads(Path(plan.auth_file).read_text())
    doc["auths"].update(extra)
    auth = tmp_path / f"auth-shaped-{id(p)}.json"
    auth.write_text(json.dumps(doc))
    auth.chmod(0o600)
    p.auth_file = str(auth)
    for dotted, value in fields.items():
        section, _, name = dotted.partition("__")
        setattr(getattr(p, section), name, value)
    p.save(tmp_path / f"plan-shaped-{id(p)}.yaml")
    return p


def _verified(plan: Plan) -> None:
    report = verify_mirror(context(plan)[0], deep=True)
    assert report.ok, list(report.problems)


def _blob_bytes(summary: Any) -> int:
    return int(summary.bytes_copied)


def test_download_cut_mid_blob_resumes_with_range(
    sandbox: Any, registry_factory: Callable[..., Any], make_plan: Any, shapers: list[Shaper], tmp_path: Path
) -> None:
    # the same mirror over a clean link first: what the copy needs on the wire
    clean_target = registry_factory()
    # a capped link, as in the field: the shaper cannot run ahead of a slow client by whole socket buffers, which
    # a reset would throw away
    shaper = _upstream_shaper(sandbox, shapers, Faults(), Link(rate=20e6))
    clean = _through(make_plan(clean_target, mirroring__concurrency=3), tmp_path, sandbox, source=shaper)
    assert mirror_release(context(clean)[0], MirrorOptions(retry=RETRY)).verified
    needed = shaper.reset_stats().bytes_down

    target = registry_factory()
    base = make_plan(target, mirroring__concurrency=3)
    shaper.faults = Faults(cut_every=3 * 1024 * 1024, cut_mode="reset")
    plan = _through(base, tmp_path, sandbox, source=shaper)
    ctx, rec = context(plan)
    summary = mirror_release(ctx, MirrorOptions(retry=RETRY))
    assert summary.verified
    stats = shaper.stats
    assert stats.cuts >= 3, stats
    resumed = [t for t in rec.texts() if "resuming from there" in t]
    assert len(resumed) >= 3, rec.texts()
    # a cut costs the bytes in flight (socket buffers the reset throws away), not the blob
    wasted = stats.bytes_down - needed
    assert wasted <= stats.cuts * 512 * 1024, (wasted, needed, stats)
    last = [e for e in rec.of(Progress) if e.unit == "bytes"][-1]
    assert last.retries is not None and last.retries >= len(resumed)
    _verified(base)


def test_upload_cut_mid_blob_restarts_cleanly(
    sandbox: Any, registry_factory: Callable[..., Any], make_plan: Any, pki: Any, shapers: list[Shaper],
    tmp_path: Path,
) -> None:  # fmt: skip
    target = registry_factory()
    base = make_plan(target, mirroring__concurrency=3)
    # distribution 2.8 cancels an upload whose stored size differs from the client's offset (blobupload.go,
    # "upload resumed at wrong offset"), and a cut PATCH leaves part of its body stored: the blob starts again
    faults = Faults(cut_upload_every=3 * 1024 * 1024, cut_mode="reset", cut_limit=3)
    shaper = _target_shaper(target, pki, shapers, faults)
    plan = _through(base, tmp_path, sandbox, mirror=shaper, target=target, mirroring__upload_chunk_mb=1)
    ctx, rec = context(plan)
    summary = mirror_release(ctx, MirrorOptions(retry=RETRY, verify=False))
    assert shaper.stats.cuts == 3, shaper.stats
    assert any("retrying in" in t for t in rec.texts())
    assert summary.images_copied == summary.images_total
    _verified(base)
    # no upload session was left behind half-written under a blob's name: every stored blob has its digest
    assert verify_mirror(context(base)[0], deep=True).ok


def test_429_with_retry_after_is_honoured(
    sandbox: Any, registry_factory: Callable[..., Any], make_plan: Any, shapers: list[Shaper], tmp_path: Path
) -> None:
    target = registry_factory()
    base = make_plan(target, mirroring__concurrency=2)
    rule = Rule(code=429, method="GET", path=r"ocp-v4.0-art-dev/blobs/sha256:", retry_after=1.5, times=3)
    shaper = _upstream_shaper(sandbox, shapers, Faults(rules=[rule]))
    plan = _through(base, tmp_path, sandbox, source=shaper)
    ctx, rec = context(plan)
    started = time.monotonic()
    summary = mirror_release(ctx, MirrorOptions(retry=RETRY))
    assert summary.verified and rule.hits == 3
    waits = [
        float(m.group(1))
        for t in rec.texts()
        if "429" in t
        for m in [re.search(r"retrying in ([0-9.]+) s", t)]
        if m
    ]
    assert len(waits) == 3 and all(w >= 1.5 for w in waits), rec.texts()
    assert time.monotonic() - started >= 1.5
    _verified(base)


def test_413_switches_to_chunked_uploads_and_says_so_once(
    sandbox: Any, registry_factory: Callable[..., Any], make_plan: Any, pki: Any, shapers: list[Shaper],
    tmp_path: Path,
) -> None:  # fmt: skip
    target = registry_factory()
    base = make_plan(target, mirroring__concurrency=3)
    limit = 256 * 1024
    shaper = _target_shaper(target, pki, shapers, Faults(max_body=limit))
    plan = _through(base, tmp_path, sandbox, mirror=shaper, target=target)
    ctx, rec = context(plan)
    summary = mirror_release(ctx, MirrorOptions(retry=RETRY))
    assert summary.verified
    notices = [t for t in rec.texts() if "413 Request Entity Too Large" in t and "pieces of" in t]
    assert len(notices) == 1, notices
    assert "mirroring.upload_chunk_mb" in notices[0]
    assert shaper.stats.too_large >= 1
    _verified(base)


def test_stalled_connection_is_dropped_and_resumed(
    sandbox: Any, registry_factory: Callable[..., Any], make_plan: Any, shapers: list[Shaper], tmp_path: Path
) -> None:
    target = registry_factory()
    base = make_plan(target, mirroring__concurrency=2)
    shaper = _upstream_shaper(sandbox, shapers, Faults(stall_after=2 * 1024 * 1024, stall_seconds=120))
    plan = _through(base, tmp_path, sandbox, source=shaper, mirroring__stall_timeout=2)
    ctx, rec = context(plan)
    started = time.monotonic()
    summary = mirror_release(ctx, MirrorOptions(retry=RETRY))
    elapsed = time.monotonic() - started
    assert summary.verified and shaper.stats.stalls == 1
    assert elapsed < 60, "the stall was noticed after the stall timeout, not after the shaper gave up"
    assert any("Timeout" in t or "timed out" in t for t in rec.texts()), rec.texts()
    _verified(base)


# ----- bearer tokens: renewal and per-repository scopes against distribution's token auth ----------------
@pytest.fixture
def token_upstream(tmp_path: Path, pki: Any) -> Iterator[tuple[Any, Any, Path]]:
    """A token-auth docker-registry holding one tiny image in a public and a private repository; tokens live 2 s."""
    import base64 as b64
    import subprocess

    from sandbox.certs import cert_dir_for
    from sandbox.registry import RegistryProcess, make_htpasswd, pid_alive
    from sandbox.releases import FileSpec, OciLayout
    from sandbox.tokenserver import start_token_server

    ht = make_htpasswd(tmp_path / "htpasswd", {"reader": "r-pass-123", "publisher": "p-pass-456"})
    service, auth = start_token_server(
        tmp_path / "tokens",
        tls=(pki.server.cert, pki.server.key),
        htpasswd=ht,
        users={"reader": {"pull": ["org/*"]}, "publisher": {"pull": ["*"], "push": ["*"]}},
        anonymous_pull=["org/public"],
        token_seconds=2,
    )
    reg = RegistryProcess(tmp_path / "reg", tls=(pki.server.cert, pki.server.key), token=auth)
    try:
        reg.start()
        layout = OciLayout(tmp_path / "oci")
        layer = layout.add_layer("l", [FileSpec("f.txt", b"token test\n")])
        layout.tag("v1", layout.add_image([layer], labels={"test": "tokens"}))
        layout.write_index()
        certs = cert_dir_for(pki.ca.cert, tmp_path / "certs.d")
        entry = {"auth": b64.b64encode(b"publisher:p-pass-456").decode()}
        pub = tmp_path / "pub.json"
        pub.write_text(json.dumps({"auths": {reg.host: entry}}))
        for repo in ("org/public", "org/private"):
            subprocess.run(
                ["skopeo", "copy", "--quiet", "--dest-authfile", str(pub), "--dest-cert-dir", str(certs),
                 f"oci:{layout.root}:v1", f"docker://{reg.host}/{repo}:v1"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        yield reg, auth, tmp_path
    finally:
        reg.stop()
        service.stop()
        assert not pid_alive(service.pid)


def test_engine_renews_bearer_tokens_and_keeps_scopes_per_repository(token_upstream: Any, pki: Any) -> None:
    from engine.authfile import AuthFile
    from engine.oci.registry import RegistryClient
    from tests.helpers import wait_until

    reg, auth, tmp = token_upstream
    doc = {"auths": {reg.host: {"auth": __import__("base64").b64encode(b"reader:r-pass-123").decode()}}}
    client = RegistryClient(
        reg.host, auth=AuthFile.parse(json.dumps(doc), "auth.json"), ca_file=str(pki.ca.cert)
    )
    with client:
        public = client.get_manifest("org/public", "v1")
        private = client.get_manifest("org/private", "v1")
        assert public.digest == private.digest
        assert client.tokens_fetched == 2, "one token per repository scope"
        assert client.get_manifest("org/public", "v1").digest == public.digest
        assert client.tokens_fetched == 2, "a live token is reused"
        # the token lives 2 s: the client renews it before it runs out, without a 401 round trip
        fetched = client.tokens_fetched
        wait_until(
            lambda: client.get_manifest("org/private", "v1") is not None and client.tokens_fetched > fetched,
            timeout=10,
            what="the client to renew its token",
        )
        # a token the registry no longer accepts (past exp + distribution's 60 s leeway): renewed on the 401
        key = "repository:org/private:pull"
        stale = auth.issuer_obj().mint("reader", [{"type": "repository", "name": "org/private", "actions": ["pull"]}],
                                       seconds=2, now=time.time() - 120)  # fmt: skip
        client._tokens[key] = (stale, time.monotonic() + 3600)
        before = client.tokens_fetched
        assert client.get_manifest("org/private", "v1").digest == private.digest
        assert client.tokens_fetched == before + 1
    granted = auth.issued()
    assert any(line.startswith("issued token to reader for org/private:pull") for line in granted), granted


# ----- what a person sees: current rate, ETA, retries --------------------------------------------------------
def test_progress_carries_current_rate_eta_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.commands._common import format_progress
    from engine.context import Context
    from engine.events import Emitter, Recorder
    from engine.mirror import core
    from tui.widgets.progress import describe

    clock = [1000.0]
    monkeypatch.setattr(core.time, "monotonic", lambda: clock[0])
    rec = Recorder()
    tracker = core._Tracker(Context(Plan(), Emitter("mirror", rec)), 10, 1000 * 2**20, interval=0.0)
    # 10 s at 10 MiB/s, then the link slows to 1 MiB/s for 10 s: the rate shown follows the link, not the average
    for _ in range(10):
        clock[0] += 1
        tracker.add(10 * 2**20)
    for _ in range(10):
        clock[0] += 1
        tracker.add(2**20)
    tracker.retried()
    tracker.retried()
    last = [e for e in rec.of(Progress) if e.unit == "bytes"][-1]
    assert last.rate is not None and 0.9 * 2**20 <= last.rate <= 1.3 * 2**20, last.rate
    left = 1000 * 2**20 - 110 * 2**20
    assert last.eta_seconds is not None and abs(last.eta_seconds - left / last.rate) < 1
    assert last.retries == 2
    text = format_progress(last)
    assert (
        "110.0 MiB of 1000.0 MiB" in text and "MiB/s" in text and "ETA 1" in text and "2 retries" in text
    ), text
    shown = describe(last)
    assert "MiB/s" in shown and "ETA" in shown and shown.endswith("2 retries"), shown


def test_plan_settings_for_links_are_checked(tmp_path: Path) -> None:
    from engine.oci.registry import _smaller_chunk

    plan = Plan()
    plan.mirroring.upload_chunk_mb = -1
    plan.mirroring.stall_timeout = 1
    fields = {f for f, _ in plan.problems()}
    assert {"mirroring.upload_chunk_mb", "mirroring.stall_timeout"} <= fields
    # after a 413: 1 MiB (nginx's default limit) first, then halves, never under 64 KiB
    assert _smaller_chunk(64 * 2**20) == 2**20
    assert _smaller_chunk(2**20) == 2**19
    assert _smaller_chunk(100 * 1024) == 64 * 1024


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    from engine.oci.registry import parse_retry_after

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Sun, 29 Nov 2026 17:00:30 GMT", now=1795971600.0) == 30.0
    assert parse_retry_after("") is None and parse_retry_after("soon") is None


def test_shaper_stops_by_itself(pki: Any) -> None:
    import socket

    from tests.helpers import wait_until

    shaper = Shaper("https://127.0.0.1:9", tls=(pki.server.cert, pki.server.key), max_seconds=0.5).start()
    port = shaper.port

    def refused() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        return False

    assert not refused()
    wait_until(refused, timeout=10, what="the shaper to stop after its time limit")


def test_shaper_as_a_process_counts_and_stops_on_sigterm(pki: Any, tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys

    from tests.helpers import wait_until

    cfg = {
        "upstream": "https://127.0.0.1:9",
        "tls": {"cert": str(pki.server.cert), "key": str(pki.server.key)},
        "port_file": str(tmp_path / "port"),
        "stats_file": str(tmp_path / "stats.json"),
        "max_seconds": 60,
        "link": {"rtt": 0.01, "rate": 1e6},
        "faults": {"rules": [{"code": 503, "path": "^/v2/$", "retry_after": 2}]},
    }
    (tmp_path / "shaper.json").write_text(json.dumps(cfg))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.shaper", "--config", str(tmp_path / "shaper.json")], cwd=root
    )
    try:
        port = int(wait_until(lambda: (tmp_path / "port").exists() and (tmp_path / "port").read_text().strip(),
                              timeout=20, what="the shaper's port file"))  # fmt: skip
        import ssl

        ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
        ):
            s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 2" in answer, answer
        stats = tmp_path / "stats.json"
        wait_until(lambda: stats.exists() and json.loads(stats.read_text())["injected"] == 1, timeout=10,
                   what="the stats file to count the injected answer")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
