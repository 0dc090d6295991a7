"""HTTPS front end of the simulated OpenShift API: routing, bearer-token authentication, authorization
(admin vs read-only), discovery, CRUD, patches, watch streams and ``meta.k8s.io/v1`` tables for kubectl."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import resources as res
from .resources import BY_PATH, RESOURCE_TYPES, ResourceType
from .store import ApiError, Store, now_iso
from .versions import kube_version

Obj = dict[str, Any]
log = logging.getLogger("sandbox.apiserver")

READ_VERBS = frozenset({"get", "list", "watch"})
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/readyz", "/livez"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    admin: bool


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(
    user: User,
    verb: str,
    rt: ResourceType | None,
    resource: str,
    group: str,
    name: str | None,
    namespace: str | None,
) -> ApiError:
    what = rt.key if rt else (f"{resource}.{group}" if group else resource)
    prefix = f'{what} "{name}"' if name else what
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{prefix} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {scope}'
    )
    details: Obj = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource.split("/")[0]
    return ApiError(403, "Forbidden", message, details)


# --------------------------------------------------------------------------------------------- tables


def table_for(rt: ResourceType, items: list[Obj], rv: str, include: str) -> Obj:
    now = dt.datetime.now(dt.UTC)
    columns = rt.columns or (res.NAME, res.AGE)
    rows = []
    for o in items:
        row: Obj = {"cells": [c.value(o, now) for c in columns]}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": [
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
            for c in columns
        ],
        "rows": rows,
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


# --------------------------------------------------------------------------------------------- app


class ApiApp:
    """Request handling independent of the socket layer."""

    def __init__(
        self,
        store: Store,
        tokens: dict[str, User],
        *,
        host: str = "127.0.0.1",
        absent_groups: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.host = host
        self.absent_groups = absent_groups
        """API groups whose CRDs the cluster does not have (a disabled capability): not in discovery, 404."""
        self.port = 0
        self.stopping = threading.Event()
        self.access_log = logging.getLogger("sandbox.apiserver.access")

    # ---- version
    def version_info(self) -> Obj:
        version = "4.16.0"
        cv = self.store.find(_rt("config.openshift.io", "v1", "clusterversions"), None, "version")
        if cv:
            for h in (cv.get("status") or {}).get("history") or []:
                if h.get("state") == "Completed":
                    version = h.get("version") or version
                    break
        git = kube_version(version)
        major, minor = git[1:].split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": git,
            "gitCommit": git.rsplit("+", 1)[-1].ljust(40, "0"),
            "gitTreeState": "clean",
            "buildDate": "2024-10-01T00:00:00Z",
            "goVersion": "go1.21.13 (Red Hat 1.21.13-1.el9_4) X:strictfipsruntime",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def cluster_minor(self) -> tuple[int, int] | None:
        """The minor version of the cluster's API: the newest Completed version in the ClusterVersion history
        (CRDs of a newer release appear once the update to it has completed)."""
        cv = self.store.find(_rt("config.openshift.io", "v1", "clusterversions"), None, "version")
        for h in ((cv or {}).get("status") or {}).get("history") or []:
            if h.get("state") == "Completed":
                try:
                    major, minor = str(h.get("version") or "").split(".")[:2]
                    return int(major), int(minor)
                except ValueError:
                    return None
        return None

    # ---- discovery
    def discovery(self, path: str) -> Obj | None:
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                ],
            }
        if path == "/api/v1":
            return {"kind": "APIResourceList", "groupVersion": "v1", "resources": res.resources_for("", "v1")}
        minor = self.cluster_minor()
        groups = {g: v for g, v in res.group_versions(minor).items() if g not in self.absent_groups}
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [_group(g, v) for g, v in sorted(groups.items())],
            }
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in groups:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1], groups[parts[1]])}
        if parts[0] == "apis" and len(parts) == 3 and parts[2] in groups.get(parts[1], []):
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{parts[1]}/{parts[2]}",
                "resources": res.resources_for(parts[1], parts[2], minor),
            }
        return None

    # ---- authentication / authorization
    def authenticate(self, header: str | None) -> User:
        if not header or not header.lower().startswith("bearer "):
            raise unauthorized()
        user = self.tokens.get(header[7:].strip())
        if user is None:
            raise unauthorized()
        return user

    def allowed(self, user: User, verb: str) -> bool:
        return user.admin or verb in READ_VERBS

    # ---- reviews
    def access_review(self, user: User, body: Obj) -> Obj:
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes") or spec.get("nonResourceAttributes") or {}
        verb = attrs.get("verb", "")
        allowed = self.allowed(user, verb) or (verb == "*" and user.admin)
        status: Obj = {"allowed": bool(allowed)}
        if allowed and user.admin:
            status["reason"] = (
                'RBAC: allowed by ClusterRoleBinding "cluster-admins" of ClusterRole "cluster-admin" '
                'to Group "system:cluster-admins"'
            )
        elif allowed:
            status["reason"] = (
                'RBAC: allowed by ClusterRoleBinding "cluster-readers" of ClusterRole "cluster-reader" '
                f'to User "{user.name}"'
            )
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    def whoami(self, user: User) -> Obj:
        return {
            "kind": "User",
            "apiVersion": "user.openshift.io/v1",
            "metadata": {"name": user.name, "creationTimestamp": None},
            "identities": None,
            "groups": list(user.groups),
        }

    def self_subject_review(self, user: User) -> Obj:
        return {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": now_iso()},
            "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}},
        }


def openapi_v3(path: str, absent_groups: frozenset[str] = frozenset()) -> Obj | None:
    """A minimal OpenAPI v3 tree: enough for kubectl to see that the server validates fields itself
    (``fieldValidation`` on every PATCH), so ``kubectl create/apply -f`` skips client-side schema checks."""
    gvs = [("", "v1")] + [
        (g, v)
        for g, versions in sorted(res.group_versions().items())
        if g not in absent_groups
        for v in versions
    ]
    if path == "/openapi/v3":
        paths = {}
        for g, v in gvs:
            rel = f"api/{v}" if not g else f"apis/{g}/{v}"
            paths[rel] = {
                "serverRelativeURL": f"/openapi/v3/{rel}?hash="
                + hashlib.sha1(rel.encode()).hexdigest().upper()
            }
        return {"paths": paths}
    rel = path[len("/openapi/v3/") :]
    for g, v in gvs:
        if rel == (f"api/{v}" if not g else f"apis/{g}/{v}"):
            break
    else:
        return None
    params = [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]
    doc_paths: Obj = {}
    for rt in RESOURCE_TYPES:
        if (rt.group, rt.version) != (g, v):
            continue
        base = f"/{rel}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"/{rel}/{rt.plural}"
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        doc_paths[f"{base}/{{name}}"] = {
            "get": {
                "operationId": f"read{rt.kind}",
                "x-kubernetes-action": "get",
                "x-kubernetes-group-version-kind": gvk,
            },
            "put": {
                "operationId": f"replace{rt.kind}",
                "parameters": params,
                "x-kubernetes-action": "put",
                "x-kubernetes-group-version-kind": gvk,
            },
            "patch": {
                "operationId": f"patch{rt.kind}",
                "parameters": params,
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
        doc_paths[base] = {
            "post": {
                "operationId": f"create{rt.kind}",
                "parameters": params,
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.29.0"},
        "paths": doc_paths,
        "components": {"schemas": {}},
    }


def _group(name: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def _rt(group: str, version: str, plural: str) -> ResourceType:
    return BY_PATH[(group, version, plural)]


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_resource_path(path: str) -> Target | None:
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    rt = BY_PATH.get((group, version, rest[0]))
    if rt is None:
        return None
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) >= 3 else None
    if len(rest) > 3:
        return None
    if namespace is not None and not rt.namespaced:
        return None
    return Target(rt, namespace, name, sub)


# --------------------------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sandbox-apiserver"
    sys_version = ""
    server: ApiHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # helpers
    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", _audit_id())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            ctype = (self.headers.get("Content-Type") or "").lower()
            if "yaml" in ctype:
                import yaml

                try:
                    return yaml.safe_load(raw)
                except yaml.YAMLError as exc:
                    raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from exc
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format") from None

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        start = time.monotonic()
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        user_name = "-"
        code = 500
        try:
            if path in PUBLIC_PATHS and method == "GET":
                if path == "/version":
                    code = 200
                    self._send(200, app.version_info())
                else:
                    code = 200
                    self._send(200, b"ok", "text/plain; charset=utf-8")
                return
            user = app.authenticate(self.headers.get("Authorization"))
            user_name = user.name
            code = self._route(app, user, method, path, query)
        except ApiError as exc:
            code = exc.code
            body = exc.status()
            if exc.code == 401:
                self.close_connection = False
            self._send(exc.code, body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
            code = 499
        except Exception as exc:  # pragma: no cover - defensive
            log.exception("internal error on %s %s", method, path)
            code = 500
            self._send(500, ApiError(500, "InternalError", f"Internal error occurred: {exc}").status())
        finally:
            app.access_log.info(
                "%s %s %s user=%s %dms",
                method,
                parsed.path,
                code,
                user_name,
                int((time.monotonic() - start) * 1000),
            )

    def _route(self, app: ApiApp, user: User, method: str, path: str, query: dict[str, str]) -> int:
        if method == "GET":
            doc = app.discovery(path)
            if doc is not None:
                self._send(200, doc)
                return 200
            if path == "/apis/user.openshift.io/v1/users/~":
                self._send(200, app.whoami(user))
                return 200
            if path.startswith("/openapi/v3"):
                doc = openapi_v3(path, app.absent_groups)
                if doc is not None:
                    self._send(200, doc)
                    return 200
            if path.startswith("/openapi"):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "POST" and path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            body = self._read_body() or {}
            self._send(201, app.access_review(user, body))
            return 201
        if method == "POST" and path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            self._read_body()
            self._send(201, app.self_subject_review(user))
            return 201
        target = parse_resource_path(path)
        if target is not None and not res.served(target.rt, app.cluster_minor()):
            target = None  # a CRD this cluster version does not have: 404 like any unknown path
        if target is not None and target.rt.group in app.absent_groups:
            target = None  # a disabled capability: its CRDs are not installed
        if target is None:
            if path.startswith("/apis/user.openshift.io/v1/users/"):
                name = path.rsplit("/", 1)[-1]
                raise ApiError(
                    404,
                    "NotFound",
                    f'users.user.openshift.io "{name}" not found',
                    {"name": name, "group": "user.openshift.io", "kind": "users"},
                )
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self._resource(app, user, method, target, query)

    def _resource(self, app: ApiApp, user: User, method: str, t: Target, query: dict[str, str]) -> int:
        rt = t.rt
        store = app.store
        watch = query.get("watch", "").lower() in ("true", "1")
        if t.name is None:
            verb = {"GET": "watch" if watch else "list", "POST": "create", "DELETE": "deletecollection"}.get(
                method
            )
        elif t.subresource == "eviction" and method == "POST":
            verb = "create"
        else:
            verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
        if verb is None:
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        if t.subresource not in (None, *rt.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        resource = rt.plural + (f"/{t.subresource}" if t.subresource else "")
        if not app.allowed(user, verb):
            self._read_body()
            raise forbidden(user, verb, rt, resource, rt.group, t.name, t.namespace)
        dry_run = query.get("dryRun") == "All"
        accept = self.headers.get("Accept") or ""

        if verb == "watch":
            return self._watch(app, rt, t.namespace, query, accept)
        if verb == "list":
            items, rv = store.list(rt, t.namespace, query.get("labelSelector"), query.get("fieldSelector"))
            if wants_table(accept):
                self._send(200, table_for(rt, items, rv, query.get("includeObject", "Metadata")))
            else:
                self._send(
                    200,
                    {
                        "apiVersion": rt.api_version,
                        "kind": f"{rt.kind}List",
                        "metadata": {"resourceVersion": rv},
                        "items": items,
                    },
                )
            return 200
        if verb == "get":
            assert t.name is not None
            obj = store.get(rt, t.namespace, t.name)
            if wants_table(accept):
                self._send(
                    200,
                    table_for(
                        rt, [obj], obj["metadata"]["resourceVersion"], query.get("includeObject", "Metadata")
                    ),
                )
            else:
                self._send(200, obj)
            return 200
        if verb == "create" and t.subresource == "eviction":
            assert t.name is not None
            body = self._read_body() or {}
            hook = getattr(self.server, "evict", None)
            if hook is None:
                raise ApiError(405, "MethodNotAllowed", "eviction is not supported")
            hook(t.namespace, t.name, dry_run)
            self._send(
                201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
            )
            return 201
        if verb == "create":
            body = self._read_body()
            obj = store.create(rt, t.namespace, body, dry_run=dry_run)
            self._send(201, obj)
            return 201
        if verb == "update":
            assert t.name is not None
            body = self._read_body()
            obj = store.replace(rt, t.namespace, t.name, body, subresource=t.subresource, dry_run=dry_run)
            self._send(200, obj)
            return 200
        if verb == "patch":
            assert t.name is not None
            body = self._read_body()
            ctype = self.headers.get("Content-Type") or ""
            if ctype.startswith("application/apply-patch"):
                obj = self._apply(store, rt, t, body, dry_run)
            else:
                obj = store.patch(
                    rt, t.namespace, t.name, ctype, body, subresource=t.subresource, dry_run=dry_run
                )
            self._send(200, obj)
            return 200
        if verb == "delete":
            assert t.name is not None
            body = self._read_body() or {}
            pre = ((body.get("preconditions") or {}) if isinstance(body, dict) else {}).get("resourceVersion")
            obj = store.delete(rt, t.namespace, t.name, dry_run=dry_run, precondition_rv=pre)
            details: Obj = {"name": t.name, "kind": rt.plural, "uid": obj["metadata"].get("uid")}
            if rt.group:
                details["group"] = rt.group
            self._send(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                },
            )
            return 200
        if verb == "deletecollection":
            self._read_body()
            items, _ = store.list(rt, t.namespace, query.get("labelSelector"), query.get("fieldSelector"))
            for o in items:
                with contextlib.suppress(ApiError):
                    store.delete(rt, o["metadata"].get("namespace"), o["metadata"]["name"], dry_run=dry_run)
            _, rv = store.list(rt, t.namespace, "", None)
            self._send(
                200,
                {
                    "apiVersion": rt.api_version,
                    "kind": f"{rt.kind}List",
                    "metadata": {"resourceVersion": rv},
                    "items": items,
                },
            )
            return 200
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    def _apply(self, store: Store, rt: ResourceType, t: Target, body: Any, dry_run: bool) -> Obj:
        """Server-side apply, simplified: create when missing, else a merge patch of the applied fields."""
        assert t.name is not None
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        existing = store.find(rt, t.namespace, t.name)
        if existing is None:
            body.setdefault("metadata", {})["name"] = t.name
            return store.create(rt, t.namespace, body, dry_run=dry_run)
        body = dict(body)
        body.pop("apiVersion", None)
        body.pop("kind", None)
        return store.patch(
            rt,
            t.namespace,
            t.name,
            "application/merge-patch+json",
            body,
            subresource=t.subresource,
            dry_run=dry_run,
        )

    def _watch(
        self, app: ApiApp, rt: ResourceType, namespace: str | None, query: dict[str, str], accept: str
    ) -> int:
        rv_param = query.get("resourceVersion", "")
        since: int | None
        if rv_param in ("", "0"):
            since = None
        else:
            try:
                since = int(rv_param)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version: {rv_param}") from None
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        table = wants_table(accept)
        events = app.store.watch(
            rt,
            namespace,
            since,
            query.get("labelSelector"),
            query.get("fieldSelector"),
            stop=app.stopping.is_set,
            timeout=timeout,
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        try:
            for etype, obj in events:
                if table and etype != "ERROR":
                    obj = table_for(
                        rt, [obj], obj["metadata"]["resourceVersion"], query.get("includeObject", "Object")
                    )
                line = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True
        return 200


def _audit_id() -> str:
    import uuid

    return str(uuid.uuid4())


class ApiHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: ApiApp, ssl_context: ssl.SSLContext | None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is not None:
            try:
                request.settimeout(10)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                with contextlib.suppress(OSError):
                    request.close()
                return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            request.close()


def make_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


__all__ = ["ApiApp", "ApiHTTPServer", "Handler", "RESOURCE_TYPES", "User", "make_ssl_context", "table_for"]
