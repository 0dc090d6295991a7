import json
import threading

from engine.events import (
    CheckResult,
    CheckStatus,
    Command,
    Emitter,
    LogLine,
    Progress,
    Recorder,
    StepResult,
    StepStatus,
)
from engine.redact import forget_all_secrets, register_secret


def test_emitter_stamps_sequence_time_and_step():
    rec = Recorder()
    em = Emitter("mirror", rec)
    em.info("one")
    em.progress(5, 10, "images", "copying")
    em.command(["oc", "adm", "release", "mirror"])
    ev = rec.events
    assert [type(e) for e in ev] == [LogLine, Progress, Command]
    assert all(e.step == "mirror" for e in ev)
    assert ev[0].seq < ev[1].seq < ev[2].seq
    assert ev[0].ts.tzinfo is not None
    assert ev[1].fraction == 0.5
    assert ev[2].shell == "oc adm release mirror"


def test_sequence_numbers_unique_across_threads():
    rec = Recorder()
    em = Emitter("x", rec)
    threads = [threading.Thread(target=lambda: [em.info("l") for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e.seq for e in rec.events]
    assert len(seqs) == 800 == len(set(seqs))


def test_events_never_carry_registered_secrets():
    forget_all_secrets()
    register_secret("tops3cretvalue")
    rec = Recorder()
    em = Emitter("creds", rec)
    em.info("password is tops3cretvalue")
    em.command(["skopeo", "login", "-p", "tops3cretvalue"])
    em.check("login", CheckStatus.FAIL, "used tops3cretvalue", fix="retype tops3cretvalue")
    em.result(StepStatus.FAILED, "tops3cretvalue", {"pw": "tops3cretvalue", "nested": {"password": "x"}})
    dumped = json.dumps([e.to_dict() for e in rec.events], default=str)
    assert "tops3cretvalue" not in dumped
    forget_all_secrets()


def test_to_dict_is_json_ready():
    rec = Recorder()
    em = Emitter("preflight", rec)
    em.check("nodes", CheckStatus.WARN, "1 of 6 NotReady", fix="oc get nodes", why="drain")
    em.result(StepStatus.SUCCEEDED, "done", {"n": 1})
    d = rec.events[0].to_dict()
    assert d["kind"] == "CheckResult" and d["status"] == "warn" and d["ts"].endswith("Z")
    assert isinstance(rec.events[0], CheckResult)
    assert isinstance(rec.events[1], StepResult)
    json.dumps([e.to_dict() for e in rec.events])
