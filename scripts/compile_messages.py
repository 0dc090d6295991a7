"""Compile every message catalogue (tui/locale/<lang>/LC_MESSAGES/ocp-airgap.po) to the .mo gettext reads.

Pure Python (the GNU .mo format: magic, revision, counts, two sorted tables of (length, offset) pairs, then the
strings), so the bootstrap needs no gettext tools; the .mo files are also shipped in the package. Run after
editing a .po; a test checks each shipped .mo matches its .po."""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "tui" / "locale"


def parse_po(text: str) -> dict[str, str]:
    """msgid (plural forms joined with NUL, as in a .mo) → msgstr; untranslated and fuzzy entries left out."""
    out: dict[str, str] = {}
    entry: dict[str, str] = {}
    field = ""
    fuzzy = False

    def flush() -> None:
        nonlocal entry, fuzzy
        if "msgid" in entry and not fuzzy:
            key = entry["msgid"]
            if "msgid_plural" in entry:
                key += "\0" + entry["msgid_plural"]
                forms = [entry[k] for k in sorted(k for k in entry if k.startswith("msgstr["))]
                value = "\0".join(forms)
            else:
                value = entry.get("msgstr", "")
            if value.replace("\0", "") and (key or value):
                out[key] = value
        entry, fuzzy = {}, False

    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#,") and "fuzzy" in line:
            flush()
            fuzzy = True
            continue
        if not line or line.startswith("#"):
            if not line and entry:
                flush()
            continue
        if line.startswith('"'):
            entry[field] += ast.literal_eval(line)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgid" and "msgid" in entry:
            flush()
        field = keyword
        entry[field] = ast.literal_eval(rest)
    flush()
    return out


def mo_bytes(messages: dict[str, str]) -> bytes:
    keys = sorted(messages)
    ids = [k.encode("utf-8") for k in keys]
    strs = [messages[k].encode("utf-8") for k in keys]
    n = len(keys)
    key_start = 7 * 4 + 16 * n
    offsets_ids, offsets_strs = [], []
    pos = key_start
    for b in ids:
        offsets_ids.append((len(b), pos))
        pos += len(b) + 1
    for b in strs:
        offsets_strs.append((len(b), pos))
        pos += len(b) + 1
    header = struct.pack("<7I", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    tables = b"".join(struct.pack("<2I", *o) for o in offsets_ids + offsets_strs)
    data = b"".join(b + b"\0" for b in ids + strs)
    return header + tables + data


def compile_all() -> list[Path]:
    written = []
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(parse_po(po.read_text(encoding="utf-8"))))
        written.append(mo)
    return written


if __name__ == "__main__":
    for path in compile_all():
        print(path.relative_to(ROOT))
    sys.exit(0)
