"""The OpenShift API through the unmodified ``kubernetes`` client, as plain dicts.

:class:`Cluster` wraps one ``kubernetes.client.ApiClient`` (built from a kubeconfig and context, so TLS, tokens and
client certificates work exactly as ``kubectl``/``oc`` do) and offers get/list/create/replace/patch/delete for the
resources the procedures touch, addressed by :class:`Resource`. Every API failure becomes an
:class:`~engine.errors.AirgapError` subclass that says what happened in plain words and what to do.

The client is blocking: call it from worker threads.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig

from engine.errors import (
    ClusterError,
    ClusterUnreachable,
    Conflict,
    Forbidden,
    InputError,
    NotFound,
    TLSError,
    Unauthorized,
)
from engine.redact import register_secret

T = TypeVar("T")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def oc_name(self) -> str:
        """How oc names the resource type: 'clusterversion', 'mhc', 'configmap'..."""
        return self.short or (f"{self.plural}.{self.group}" if self.group else self.plural)

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{urllib.parse.quote(name)}"
            if subresource:
                base += f"/{subresource}"
        return base


CLUSTER_VERSION = Resource(
    "config.openshift.io", "v1", "clusterversions", "ClusterVersion", False, "clusterversion"
)
CLUSTER_OPERATOR = Resource("config.openshift.io", "v1", "clusteroperators", "ClusterOperator", False, "co")
IMAGE_CONFIG = Resource("config.openshift.io", "v1", "images", "Image", False, "image.config.openshift.io")
IDMS = Resource(
    "config.openshift.io",
    "v1",
    "imagedigestmirrorsets",
    "ImageDigestMirrorSet",
    False,
    "imagedigestmirrorset",
)
ICSP = Resource(
    "operator.openshift.io",
    "v1alpha1",
    "imagecontentsourcepolicies",
    "ImageContentSourcePolicy",
    False,
    "imagecontentsourcepolicy",
)
CLOUD_CREDENTIAL = Resource(
    "operator.openshift.io", "v1", "cloudcredentials", "CloudCredential", False, "cloudcredential"
)
MCP = Resource(
    "machineconfiguration.openshift.io", "v1", "machineconfigpools", "MachineConfigPool", False, "mcp"
)
MHC = Resource("machine.openshift.io", "v1beta1", "machinehealthchecks", "MachineHealthCheck", True, "mhc")
MACHINE = Resource("machine.openshift.io", "v1beta1", "machines", "Machine", True, "machine")
CATALOG_SOURCE = Resource(
    "operators.coreos.com", "v1alpha1", "catalogsources", "CatalogSource", True, "catalogsource"
)
NODE = Resource("", "v1", "nodes", "Node", False, "node")
POD = Resource("", "v1", "pods", "Pod", True, "pod")
NAMESPACE = Resource("", "v1", "namespaces", "Namespace", False, "namespace")
CONFIGMAP = Resource("", "v1", "configmaps", "ConfigMap", True, "configmap")
SECRET = Resource("", "v1", "secrets", "Secret", True, "secret")
PDB = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "pdb")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def kubeconfig_path(path: str = "") -> str:
    if path:
        return os.path.expanduser(path)
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return env.split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")


def _kubeconfig_cluster(kubeconfig: str = "", context: str = "") -> tuple[str, dict[str, Any]]:
    """(path, the ``clusters[]`` entry of the context) of a kubeconfig, read without contacting the cluster. Every
    way a kubeconfig can be unusable is an :class:`InputError` naming it (never a traceback)."""
    path = kubeconfig_path(kubeconfig)
    relogin = "Log in again with 'oc login', or give the right kubeconfig in the plan (cluster.kubeconfig)."
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(
            f"kubeconfig {path} does not exist",
            fix="Log in with 'oc login' or give the kubeconfig path in the plan (cluster.kubeconfig).",
        ) from None
    except IsADirectoryError:
        raise InputError(f"kubeconfig {path} is a folder, not a file", fix=relogin) from None
    except UnicodeDecodeError:
        raise InputError(f"kubeconfig {path} is not a text file (not UTF-8 YAML)", fix=relogin) from None
    except OSError as exc:
        raise InputError(
            f"cannot read kubeconfig {path}: {exc.strerror}",
            fix="Check the file's permissions (it must be readable by this user).",
        ) from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(
            f"kubeconfig is not valid YAML: {exc.problem}",
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            fix=relogin,
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"kubeconfig {path} is not YAML text ({exc})", fix=relogin) from None

    def entries(key: str) -> list[dict[str, Any]]:
        value = doc.get(key) or []
        if not isinstance(value, list):
            raise InputError(f"kubeconfig {path}: '{key}' is not a list", fix=relogin)
        return [e for e in value if isinstance(e, dict)]

    if not isinstance(doc, dict):
        raise InputError(f"kubeconfig {path} is not a kubeconfig (not a mapping)", fix=relogin)
    ctx_name = context or doc.get("current-context", "")
    ctx = next((c.get("context") or {} for c in entries("contexts") if c.get("name") == ctx_name), None)
    if not isinstance(ctx, dict):
        raise InputError(
            f"context {ctx_name!r} is not in kubeconfig {path}",
            fix="Choose one of: "
            + (", ".join(str(c.get("name", "?")) for c in entries("contexts")) or "(none)"),
        )
    cluster = next(
        (c.get("cluster") or {} for c in entries("clusters") if c.get("name") == ctx.get("cluster")), None
    )
    if not isinstance(cluster, dict) or not cluster.get("server"):
        raise InputError(f"context {ctx_name!r} names no cluster server in {path}", fix=relogin)
    return path, cluster


def read_server_url(kubeconfig: str = "", context: str = "") -> str:
    """The API server URL of a kubeconfig context, without contacting it (used to find the cluster's journal)."""
    return str(_kubeconfig_cluster(kubeconfig, context)[1]["server"])


def skips_tls_verify(kubeconfig: str = "", context: str = "") -> bool:
    """True when the kubeconfig context sets ``insecure-skip-tls-verify: true``: the API server's certificate is
    not checked (anyone in the middle can read the token)."""
    return bool(_kubeconfig_cluster(kubeconfig, context)[1].get("insecure-skip-tls-verify"))


class Cluster:
    """A connection to one cluster's API."""

    def __init__(
        self, api_client: kclient.ApiClient, *, server: str, kubeconfig: str = "", context: str = ""
    ) -> None:
        self.api = api_client
        self.server = server
        self.kubeconfig = kubeconfig
        self.context = context
        self.insecure = False
        """the kubeconfig skips TLS verification of the API server (insecure-skip-tls-verify: true)"""
        self._lock = threading.Lock()
        token = getattr(api_client.configuration, "api_key", {}).get("BearerToken") or ""
        if token:
            register_secret(str(token).removeprefix("Bearer ").strip())

    @classmethod
    def connect(cls, kubeconfig: str = "", context: str = "") -> Cluster:
        path = kubeconfig_path(kubeconfig)
        server = read_server_url(path, context)
        try:
            api = kconfig.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context or None, persist_config=False
            )
        except (kconfig.ConfigException, ValueError, TypeError, AttributeError, KeyError, OSError) as exc:
            raise InputError(
                f"cannot use kubeconfig {path}: {exc}", fix="Log in again with 'oc login'."
            ) from None
        cluster = cls(api, server=server, kubeconfig=path, context=context)
        cluster.insecure = skips_tls_verify(path, context)
        if cluster.insecure:
            # said once, plainly, by preflight and the wizard header instead of urllib3's warning on every request
            import warnings

            import urllib3

            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        return cluster

    def oc_args(self) -> list[str]:
        """Flags that make an equivalent oc command talk to the same cluster, when not the default one."""
        args: list[str] = []
        if self.kubeconfig and self.kubeconfig != kubeconfig_path(""):
            args += ["--kubeconfig", self.kubeconfig]
        if self.context:
            args += ["--context", self.context]
        return args

    # ----- raw requests ----------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
        what: str = "",
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        q = list((query or {}).items())
        params = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=q,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            resp = self.api.call_api(*params, _request_timeout=timeout)
            resp.read()  # type: ignore[no-untyped-call]
        except urllib3.exceptions.SSLError as exc:
            raise TLSError(
                f"the API server {self.server} presented a certificate this host does not trust ({_short(exc)})",
                fix="Use a kubeconfig that carries the cluster's CA (certificate-authority-data), as 'oc login' writes.",
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnreachable(
                f"cannot reach the API server {self.server} ({_short(exc)})",
                fix="Check the network path to the cluster and that the kubeconfig's server URL is right.",
            ) from None
        status = resp.status
        data = resp.data or b""
        if 200 <= status < 300:
            return json.loads(data) if data else {}
        raise _api_error(status, data, what or f"{method} {path}", self.server)

    # ----- typed helpers ---------------------------------------------------------------------------------
    def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return dict(self.request("GET", res.path(namespace, name), what=_what(res, name, namespace)))

    def get_or_none(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.get(res, name, namespace)
        except NotFound:
            return None

    def list(
        self, res: Resource, namespace: str | None = None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector} if label_selector else None
        doc = self.request("GET", res.path(namespace), query=query, what=_what(res, None, namespace))
        items = doc.get("items") or []
        for item in items:  # list items omit apiVersion/kind; restore them as kubectl does
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", res.kind)
        return list(items)

    def create(self, res: Resource, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        name = obj.get("metadata", {}).get("name", "")
        return dict(self.request("POST", res.path(namespace), body=obj, what=_what(res, name, namespace)))

    def replace(self, res: Resource, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        return dict(
            self.request("PUT", res.path(namespace, name), body=obj, what=_what(res, name, namespace))
        )

    def merge_patch(
        self, res: Resource, name: str, patch: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH",
                res.path(namespace, name),
                body=patch,
                content_type=MERGE_PATCH,
                what=_what(res, name, namespace),
            )
        )

    def json_patch(
        self, res: Resource, name: str, ops: builtins.list[dict[str, Any]], namespace: str | None = None
    ) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH",
                res.path(namespace, name),
                body=ops,
                content_type=JSON_PATCH,
                what=_what(res, name, namespace),
            )
        )

    def delete(self, res: Resource, name: str, namespace: str | None = None) -> None:
        self.request("DELETE", res.path(namespace, name), what=_what(res, name, namespace))

    def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        timeout_seconds: int = 30,
        cancel: threading.Event | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events ({'type', 'object'}) until the server closes the stream or ``cancel`` is set."""
        query = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            query["resourceVersion"] = resource_version
        params = self.api.param_serialize(
            method="GET",
            resource_path=res.path(namespace),
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        resp = self.api.rest_client.pool_manager.request(
            "GET", params[1], headers=params[2], preload_content=False, timeout=timeout_seconds + 5
        )
        try:
            if resp.status >= 300:
                raise _api_error(resp.status, resp.read(), f"watch {res.plural}", self.server)
            buf = b""
            for chunk in resp.stream(4096):
                if cancel is not None and cancel.is_set():
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()

    def whoami(self) -> str:
        doc = self.request("GET", "/apis/user.openshift.io/v1/users/~", what="the current user")
        return str(doc.get("metadata", {}).get("name", ""))

    def can_i(self, verb: str, res: Resource, namespace: str = "", name: str = "") -> tuple[bool, str]:
        """SelfSubjectAccessReview: (allowed, reason)."""
        attrs: dict[str, Any] = {"verb": verb, "group": res.group, "resource": res.plural}
        if namespace:
            attrs["namespace"] = namespace
        if name:
            attrs["name"] = name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        doc = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body)
        status = doc.get("status", {})
        return bool(status.get("allowed")), str(status.get("reason", ""))

    def cluster_version(self) -> dict[str, Any]:
        return self.get(CLUSTER_VERSION, "version")


MACHINE_API_CAPABILITY = "MachineAPI"
MACHINE_API_ABSENT = "not applicable on this cluster: the Machine API capability is disabled"
"""What the MachineHealthCheck steps say on a cluster installed without the MachineAPI capability."""


def capability_enabled(cv: dict[str, Any], name: str) -> bool:
    """Whether ClusterVersion ``status.capabilities.enabledCapabilities`` lists capability ``name``.

    A cluster that reports no capabilities (before 4.11) has them all. A cluster installed with
    ``spec.capabilities.baselineCapabilitySet: None`` (bare-metal UPI, single-node) lacks every capability it
    did not add back, and the CVO does not create the resources of a disabled one: without ``MachineAPI`` there
    are no Machine, MachineSet or MachineHealthCheck CRDs (openshift/api config/v1 ``ClusterVersionCapability``)."""
    caps = ((cv.get("status") or {}).get("capabilities") or {}).get("enabledCapabilities")
    if caps is None:
        return True
    return name in caps


def machine_api_enabled(cv: dict[str, Any]) -> bool:
    return capability_enabled(cv, MACHINE_API_CAPABILITY)


def retry_on_conflict(
    attempt: Callable[[], T],
    *,
    attempts: int = 5,
    on_retry: Callable[[int], None] | None = None,
    pause: float = 0.05,
) -> T:
    """Run ``attempt`` (which must re-read the object it changes) again when the API server answers 409 Conflict,
    up to ``attempts`` times, as client-go's ``RetryOnConflict`` does."""
    for n in range(1, attempts + 1):
        try:
            return attempt()
        except Conflict:
            if n == attempts:
                raise
            if on_retry is not None:
                on_retry(n)
            threading.Event().wait(pause * n)
    raise AssertionError("unreachable")


def current_version(cv: dict[str, Any]) -> str:
    """The version the cluster runs: the newest Completed history entry, else status.desired.version."""
    for entry in cv.get("status", {}).get("history") or []:
        if entry.get("state") == "Completed":
            return str(entry.get("version", ""))
    return str(cv.get("status", {}).get("desired", {}).get("version", ""))


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against an object's labels. An empty selector matches
    nothing here: callers use it to find the pods a PodDisruptionBudget protects, and a budget without a selector
    names no pod worth reporting."""
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _what(res: Resource, name: str | None, namespace: str | None) -> str:
    text = f"{res.oc_name}/{name}" if name else res.plural
    if namespace:
        text += f" in namespace {namespace}"
    return text


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "…"


def _api_error(status: int, data: bytes, what: str, server: str) -> ClusterError:
    message = ""
    try:
        doc = json.loads(data)
        message = str(doc.get("message", ""))
    except (json.JSONDecodeError, AttributeError):
        message = data[:200].decode("utf-8", "replace")
    if status == 401:
        return Unauthorized(
            f"the API server {server} did not accept the credentials (401 Unauthorized)",
            fix="Your token has expired or is wrong: log in again with 'oc login'.",
        )
    if status == 403:
        return Forbidden(
            f"not allowed: {message or what}",
            fix="Use an account with cluster-admin rights (the documented procedure requires them), "
            "e.g. 'oc login -u kubeadmin', or ask an administrator to grant the missing right.",
        )
    if status == 404:
        return NotFound(f"{what} was not found ({message or '404'})", fix="Check the name and namespace.")
    if status == 409:
        return Conflict(
            f"{what} changed or exists already: {message}",
            fix="Somebody else changed it at the same time; the operation re-reads and retries where it is safe.",
        )
    if status == 422:
        return ClusterError(
            f"the API server rejected {what}: {message}", fix="The change is invalid; see the message."
        )
    return ClusterError(
        f"the API server answered {status} for {what}: {message}",
        fix="Retry; if it persists check the cluster.",
    )
