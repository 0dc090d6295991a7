import sys
import threading

import pytest

from engine.errors import Cancelled, ToolMissing
from engine.proc import run_streaming
from engine.redact import forget_all_secrets, register_secret


def test_lines_stream_in_order_and_stderr_is_separate():
    seen = []
    res = run_streaming(
        [
            sys.executable,
            "-c",
            "import sys\nfor i in range(3): print(i, flush=True)\nprint('oops', file=sys.stderr)",
        ],
        on_line=lambda s, line: seen.append((s, line)),
    )
    assert res.ok
    assert [line for s, line in seen if s == "stdout"] == ["0", "1", "2"]
    assert ("stderr", "oops") in seen


def test_last_lines_are_not_lost_without_newline():
    res = run_streaming([sys.executable, "-c", "import sys; sys.stdout.write('a\\nlast'); sys.exit(3)"])
    assert res.returncode == 3 and res.stdout == ["a", "last"]


def test_cancel_kills_the_process_group():
    cancel = threading.Event()
    started = threading.Event()

    def on_line(_s, _l):
        started.set()
        cancel.set()

    code = "import subprocess, sys, time\nprint('go', flush=True)\nsubprocess.run([sys.executable, '-c', 'import time; time.sleep(60)'])"
    with pytest.raises(Cancelled):
        run_streaming([sys.executable, "-c", code], on_line=on_line, cancel=cancel, grace_seconds=2)
    assert started.is_set()


def test_output_is_redacted():
    forget_all_secrets()
    register_secret("pa55w0rd-x")
    res = run_streaming([sys.executable, "-c", "print('login with pa55w0rd-x')"])
    assert res.stdout == ["login with <redacted>"]
    forget_all_secrets()


def test_missing_tool():
    with pytest.raises(ToolMissing, match="not installed"):
        run_streaming(["/nonexistent/oc", "version"])
