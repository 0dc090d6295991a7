"""In-memory object store with kube-apiserver semantics: one global resourceVersion counter, uid,
creationTimestamp, generation bumps on spec change, optimistic concurrency (409 Conflict), label and field
selectors, merge / JSON / strategic-merge patches, status subresources and a watch event log."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .resources import BY_KEY, ResourceType

Obj = dict[str, Any]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answered as a kube ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Obj | None = None,
        *,
        causes: list[Obj] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.causes = causes

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            details = dict(self.details)
            if self.causes:
                details["causes"] = self.causes
            body["details"] = details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str | None) -> Obj:
    d: Obj = {}
    if name:
        d["name"] = name
    if rt.group:
        d["group"] = rt.group
    d["kind"] = rt.plural
    return d


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.key} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.key} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.key} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(rt, name),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(rt: ResourceType, name: str, field: str, value: Any, detail: str) -> ApiError:
    kind = rt.kind
    shown = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    msg = f'{kind}.{rt.group or "core"} "{name}" is invalid: {field}: Invalid value: {shown}: {detail}'
    if not rt.group:
        msg = f'{kind} "{name}" is invalid: {field}: Invalid value: {shown}: {detail}'
    d = _details(rt, name)
    d["kind"] = kind
    return ApiError(
        422,
        "Invalid",
        msg,
        d,
        causes=[
            {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}", "field": field}
        ],
    )


# --------------------------------------------------------------------------------------------- selectors

_REQ_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_REQ_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        raise AssertionError(self.op)


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse a kube label selector (``a=b,c!=d,e,!f,g in (x,y),h notin (z)``)."""
    if not text:
        return []
    reqs: list[Requirement] = []
    for part in _split_top(text):
        m = _REQ_EQ.match(part)
        if m:
            op = "=" if m.group(2) in ("=", "==") else "!="
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
            continue
        m = _REQ_SET.match(part)
        if m and not (m.group(1) and m.group(3)):
            if m.group(3):
                values = tuple(v.strip() for v in m.group(4).split(",") if v.strip())
                reqs.append(Requirement(m.group(2), m.group(3), values))
            else:
                reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
            continue
        raise bad_request(
            f'unable to parse requirement: found "{part.strip()}", expected a valid label selector'
        )
    return reqs


def selector_from_match_labels(selector: Obj | None) -> list[Requirement]:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) as requirements."""
    if not selector:
        return []
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for e in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}[e["operator"]]
        reqs.append(Requirement(e["key"], op, tuple(e.get("values") or ())))
    return reqs


def labels_match(reqs: list[Requirement], obj: Obj) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    if not text:
        return []
    out: list[tuple[str, str, str]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        out.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return out


def _dig(obj: Any, path: str) -> str:
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs: list[tuple[str, str, str]], obj: Obj) -> bool:
    for path, op, value in reqs:
        actual = _dig(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True


# --------------------------------------------------------------------------------------------- patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strip_directives(patch: Any) -> Any:
    if isinstance(patch, dict):
        return {k: _strip_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [_strip_directives(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    return patch


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, simplified: merge-patch semantics with the ``$``-directives dropped."""
    return merge_patch(target, _strip_directives(patch))


class JSONPatchError(Exception):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise JSONPatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise JSONPatchError(f"missing value at {p!r}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError) as exc:
                raise JSONPatchError(f"invalid index {p!r}") from exc
        else:
            raise JSONPatchError(f"cannot descend into {p!r}")
    return cur


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool = False) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise JSONPatchError(f"replace operation does not apply: doc is missing key: {last}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError as exc:
                raise JSONPatchError(f"invalid index {last!r}") from exc
            if replace:
                if not 0 <= idx < len(parent):
                    raise JSONPatchError(f"replace operation does not apply: index {idx} out of range")
                parent[idx] = value
            else:
                if not 0 <= idx <= len(parent):
                    raise JSONPatchError(f"add operation does not apply: index {idx} out of range")
                parent.insert(idx, value)
    else:
        raise JSONPatchError("add operation does not apply: parent is not a container")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise JSONPatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise JSONPatchError(f"remove operation does not apply: doc is missing path: /{'/'.join(parts)}")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError) as exc:
            raise JSONPatchError(
                f"remove operation does not apply: doc is missing path: /{'/'.join(parts)}"
            ) from exc
    raise JSONPatchError("remove operation does not apply")


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(ops, list):
        raise JSONPatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise JSONPatchError(f"invalid operation {op!r}")
        kind = op["op"]
        parts = _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), replace=True)
        elif kind in ("move", "copy"):
            src = _pointer(op["from"])
            value = _remove(doc, src) if kind == "move" else copy.deepcopy(_walk(doc, src))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise JSONPatchError(f"testing value {op['path']} failed: test failed")
        else:
            raise JSONPatchError(f"Unexpected kind: {kind}")
    return doc


# --------------------------------------------------------------------------------------------- store


@dataclass
class WatchEvent:
    rv: int
    key: str
    type: str
    obj: Obj


class Store:
    def __init__(self, history: int = 20000) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {k: {} for k in BY_KEY}
        self._rv = 0
        self._events: deque[WatchEvent] = deque(maxlen=history)
        self._closed = False

    # ---- plumbing
    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, rt: ResourceType, etype: str, obj: Obj) -> None:
        self._events.append(
            WatchEvent(int(obj["metadata"]["resourceVersion"]), rt.key, etype, copy.deepcopy(obj))
        )
        self._cond.notify_all()

    @staticmethod
    def _ns(rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    # ---- reads
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        with self._lock:
            obj = self._objects[rt.key].get((self._ns(rt, namespace), name))
            if obj is None:
                raise not_found(rt, name)
            return copy.deepcopy(obj)

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        try:
            return self.get(rt, namespace, name)
        except ApiError:
            return None

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        label_selector: str | list[Requirement] | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str]:
        reqs = (
            parse_label_selector(label_selector) if isinstance(label_selector, str | None) else label_selector
        )
        freqs = parse_field_selector(field_selector)
        with self._lock:
            items = [
                copy.deepcopy(o)
                for (ns, _), o in sorted(self._objects[rt.key].items())
                if (not namespace or ns == namespace) and labels_match(reqs, o) and fields_match(freqs, o)
            ]
            return items, str(self._rv)

    # ---- writes
    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Obj,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
    ) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        ns = self._ns(rt, namespace or meta.get("namespace"))
        if rt.namespaced:
            if not ns:
                raise bad_request("the server could not find the requested resource: a namespace is required")
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
            name = meta.get("name")
            if not name:
                raise invalid(rt, "", "metadata.name", "", "name or generateName is required")
            if rt.namespaced and ("", ns) not in self._objects["namespaces"]:
                raise ApiError(
                    404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"}
                )
            if (ns, name) in self._objects[rt.key]:
                raise already_exists(rt, name)
            obj["apiVersion"] = rt.api_version
            obj["kind"] = rt.kind
            if rt.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            if not (keep_status and meta.get("creationTimestamp")):
                meta["creationTimestamp"] = now_iso()
            meta["generation"] = 1
            meta.pop("deletionTimestamp", None)
            if "status" in rt.subresources and not keep_status:
                obj.pop("status", None)
            if rt.plural == "namespaces":
                obj.setdefault("status", {"phase": "Active"})
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            meta["resourceVersion"] = self._next_rv()
            self._objects[rt.key][(ns, name)] = obj
            self._emit(rt, "ADDED", obj)
            return copy.deepcopy(obj)

    def _write(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        *,
        subresource: str | None,
        dry_run: bool,
        check_rv: bool = True,
    ) -> Obj:
        """Store ``new`` over ``old`` (same key), applying kube's update rules."""
        meta_old = old["metadata"]
        name = meta_old["name"]
        if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
            raise bad_request("the body of the request was in an unknown format")
        new = copy.deepcopy(new)
        meta = new.setdefault("metadata", {})
        if meta.get("name") not in (None, "", name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") not in (None, "", meta_old.get("namespace")):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        wanted_rv = meta.get("resourceVersion")
        if check_rv and wanted_rv not in (None, "") and str(wanted_rv) != meta_old["resourceVersion"]:
            raise conflict(rt, name)
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
            meta = new["metadata"]
        elif "status" in rt.subresources and subresource is None:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        # immutable / server-owned metadata
        for key in ("uid", "creationTimestamp", "namespace", "name"):
            if key in meta_old:
                meta[key] = meta_old[key]
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        generation = int(meta_old.get("generation", 1))
        if new.get("spec") != old.get("spec"):
            generation += 1
        meta["generation"] = generation
        if _same_ignoring_rv(new, old):
            # no-op update: kube does not bump the resourceVersion
            return copy.deepcopy(old)
        if dry_run:
            meta["resourceVersion"] = meta_old["resourceVersion"]
            return new
        meta["resourceVersion"] = self._next_rv()
        ns = meta_old.get("namespace", "")
        self._objects[rt.key][(ns, name)] = new
        self._emit(rt, "MODIFIED", new)
        return copy.deepcopy(new)

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self._lock:
            old = self._objects[rt.key].get((self._ns(rt, namespace), name))
            if old is None:
                raise not_found(rt, name)
            return self._write(rt, old, body, subresource=subresource, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self._lock:
            old = self._objects[rt.key].get((self._ns(rt, namespace), name))
            if old is None:
                raise not_found(rt, name)
            ctype = content_type.split(";")[0].strip().lower()
            base = copy.deepcopy(old)
            if ctype == "application/json-patch+json":
                try:
                    new = json_patch(base, body)
                except JSONPatchError as exc:
                    raise ApiError(422, "Invalid", str(exc), _details(rt, name)) from exc
            elif ctype == "application/merge-patch+json":
                if not isinstance(body, dict):
                    raise bad_request("merge patch must be a JSON object")
                new = merge_patch(base, body)
            elif ctype == "application/strategic-merge-patch+json":
                if not isinstance(body, dict):
                    raise bad_request("strategic merge patch must be a JSON object")
                new = strategic_merge_patch(base, body)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"application/json-patch+json, application/merge-patch+json, "
                    f"application/strategic-merge-patch+json (got {ctype})",
                )
            # a resourceVersion in the patch is a precondition, like for an update
            patched_rv = (new.get("metadata") or {}).get("resourceVersion")
            if patched_rv not in (None, "") and str(patched_rv) != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            return self._write(rt, old, new, subresource=subresource, dry_run=dry_run)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        precondition_rv: str | None = None,
    ) -> Obj:
        with self._lock:
            ns = self._ns(rt, namespace)
            obj = self._objects[rt.key].get((ns, name))
            if obj is None:
                raise not_found(rt, name)
            if precondition_rv and precondition_rv != obj["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            if dry_run:
                return copy.deepcopy(obj)
            del self._objects[rt.key][(ns, name)]
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = self._next_rv()
            obj["metadata"]["deletionTimestamp"] = now_iso()
            self._emit(rt, "DELETED", obj)
            if rt.plural == "namespaces":
                for key, objs in self._objects.items():
                    other = BY_KEY[key]
                    if other.namespaced:
                        for ons, oname in [k for k in objs if k[0] == name]:
                            self.delete(other, ons, oname)
            return obj

    # ---- internal helpers for the simulated controllers
    def mutate(
        self, rt: ResourceType, namespace: str | None, name: str, fn: Callable[[Obj], Any]
    ) -> Obj | None:
        """Apply ``fn`` to a copy of the object (spec and status) and store it if it changed.
        Returns the stored object, or None when the object does not exist."""
        with self._lock:
            old = self._objects[rt.key].get((self._ns(rt, namespace), name))
            if old is None:
                return None
            new = copy.deepcopy(old)
            fn(new)
            if _same_ignoring_rv(new, old):
                return copy.deepcopy(old)
            return self._write(rt, old, new, subresource="*", dry_run=False, check_rv=False)

    def upsert(self, rt: ResourceType, obj: Obj) -> Obj:
        """Create (keeping status) or fully overwrite an object: controller-side write."""
        meta = obj["metadata"]
        with self._lock:
            old = self._objects[rt.key].get((self._ns(rt, meta.get("namespace")), meta["name"]))
            if old is None:
                return self.create(rt, meta.get("namespace"), obj, keep_status=True)
            return self._write(rt, old, obj, subresource="*", dry_run=False, check_rv=False)

    # ---- watch
    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        since_rv: int | None,
        label_selector: str | None,
        field_selector: str | None,
        stop: Callable[[], bool],
        timeout: float | None,
    ) -> Iterator[tuple[str, Obj]]:
        """Yield ``(type, object)`` events; ``since_rv`` None sends the current objects as ADDED first."""
        import time

        reqs = parse_label_selector(label_selector)
        freqs = parse_field_selector(field_selector)
        deadline = None if timeout is None else time.monotonic() + timeout

        def wanted(o: Obj) -> bool:
            ns_ok = not namespace or o["metadata"].get("namespace") == namespace
            return ns_ok and labels_match(reqs, o) and fields_match(freqs, o)

        with self._lock:
            if since_rv is None:
                items, rv = self.list(rt, namespace, reqs, field_selector)
                cursor = int(rv)
                initial = [("ADDED", o) for o in items]
            else:
                cursor = since_rv
                initial = []
                oldest = self._events[0].rv if self._events else self._rv + 1
                if since_rv < oldest - 1 and since_rv < self._rv:
                    gone = ApiError(410, "Expired", f"too old resource version: {since_rv} ({oldest - 1})")
                    initial = [("ERROR", gone.status())]
                    cursor = -1
        yield from initial
        if cursor < 0:
            return
        while True:
            batch: list[tuple[str, Obj]] = []
            with self._cond:
                while not self._closed and not stop():
                    pending: list[WatchEvent] = []
                    for e in reversed(self._events):
                        if e.rv <= cursor:
                            break
                        pending.append(e)
                    pending.reverse()
                    if pending:
                        for e in pending:
                            cursor = max(cursor, e.rv)
                            if e.key == rt.key and wanted(e.obj):
                                batch.append((e.type, copy.deepcopy(e.obj)))
                        if batch:
                            break
                        continue
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return
                    self._cond.wait(0.5 if remaining is None else min(0.5, remaining))
                if not batch:
                    return
            yield from batch


def _same_ignoring_rv(a: Obj, b: Obj) -> bool:
    ma = {k: v for k, v in a.get("metadata", {}).items() if k not in ("resourceVersion", "generation")}
    mb = {k: v for k, v in b.get("metadata", {}).items() if k not in ("resourceVersion", "generation")}
    if ma != mb:
        return False
    ra = {k: v for k, v in a.items() if k != "metadata"}
    rb = {k: v for k, v in b.items() if k != "metadata"}
    return ra == rb
