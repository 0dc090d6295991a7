"""The simulated API server's configuration file (JSON), as written by ``sandbox.lab``.

Only ``port_file``, ``tls``, ``tokens`` and ``cluster.current_version`` / ``cluster.current_image`` are
required; everything else has a default. A bad file gives the key path and what was expected."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class TokenUser:
    user: str
    groups: tuple[str, ...]
    admin: bool


@dataclass(frozen=True)
class ClusterConfig:
    current_version: str
    current_image: str
    cluster_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    channel: str = "stable-4.16"
    upstream_graph: str = "https://api.openshift.com/api/upgrades_info/v1/graph"
    upstream_registry: str = "quay.io"
    mirror_registry: str = ""
    pull_secret: dict[str, Any] = field(default_factory=lambda: {"auths": {}})
    trusted_ca_pem: str = ""
    release_verification_public_key: str = ""
    catalog_image: str = "registry.redhat.io/redhat/redhat-operator-index:v4.16"
    infrastructure_name: str = "sandbox-7xk2p"
    image_digest_mirrors: tuple[dict[str, Any], ...] = ()
    reachable_registries: tuple[str, ...] = ()
    signature_store_url: str = "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release"
    profile: str = "default"
    features: dict[str, Any] = field(default_factory=dict)
    """The lab profile's switches (sandbox.profiles.FEATURES)."""
    olm: dict[str, Any] = field(default_factory=dict)
    """Installed operators and the marketplace's default sources (sandbox.catalogs; sandbox/apiserver/olm.py)."""


@dataclass(frozen=True)
class Timing:
    speed: float = 60.0


@dataclass(frozen=True)
class ServerConfig:
    port_file: Path
    cert: Path
    key: Path
    tokens: dict[str, TokenUser]
    cluster: ClusterConfig
    listen_host: str = "127.0.0.1"
    port: int = 0
    log_file: Path | None = None
    timing: Timing = field(default_factory=Timing)


def _req(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise ConfigError(f"{where}: missing key {key!r}")
    value = d[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key}: expected {names}, got {type(value).__name__}")
    return value


def _opt(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any) -> Any:
    if key not in d or d[key] is None:
        return default
    return _req(d, key, kind, where)


def parse_config(data: Any, source: str = "config") -> ServerConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level")
    tls = _req(data, "tls", dict, source)
    tokens_raw = _req(data, "tokens", dict, source)
    tokens: dict[str, TokenUser] = {}
    for token, info in tokens_raw.items():
        where = f"{source}.tokens[<token>]"
        if not isinstance(info, dict):
            raise ConfigError(f"{where}: expected an object with user, groups, admin")
        groups = _opt(info, "groups", list, where, ["system:authenticated"])
        tokens[token] = TokenUser(
            _req(info, "user", str, where),
            tuple(str(g) for g in groups),
            bool(_opt(info, "admin", bool, where, False)),
        )
    if not tokens:
        raise ConfigError(f"{source}.tokens: at least one token is required")
    c = _req(data, "cluster", dict, source)
    w = f"{source}.cluster"
    defaults = ClusterConfig("", "")
    cluster = ClusterConfig(
        current_version=_req(c, "current_version", str, w),
        current_image=_req(c, "current_image", str, w),
        cluster_id=_opt(c, "cluster_id", str, w, defaults.cluster_id),
        channel=_opt(c, "channel", str, w, defaults.channel),
        upstream_graph=_opt(c, "upstream_graph", str, w, defaults.upstream_graph),
        upstream_registry=_opt(c, "upstream_registry", str, w, defaults.upstream_registry),
        mirror_registry=_opt(c, "mirror_registry", str, w, ""),
        pull_secret=_opt(c, "pull_secret", dict, w, {"auths": {}}),
        trusted_ca_pem=_opt(c, "trusted_ca_pem", str, w, ""),
        release_verification_public_key=_opt(c, "release_verification_public_key", str, w, ""),
        catalog_image=_opt(c, "catalog_image", str, w, defaults.catalog_image),
        infrastructure_name=_opt(c, "infrastructure_name", str, w, defaults.infrastructure_name),
        image_digest_mirrors=tuple(_opt(c, "image_digest_mirrors", list, w, [])),
        reachable_registries=tuple(_opt(c, "reachable_registries", list, w, [])),
        signature_store_url=_opt(c, "signature_store_url", str, w, defaults.signature_store_url),
        profile=_opt(c, "profile", str, w, "default"),
        features=_opt(c, "features", dict, w, {}),
        olm=_opt(c, "olm", dict, w, {}),
    )
    timing_raw = _opt(data, "timing", dict, source, {})
    speed = _opt(timing_raw, "speed", (int, float), f"{source}.timing", 60.0)
    if speed <= 0:
        raise ConfigError(f"{source}.timing.speed: must be > 0")
    log_file = _opt(data, "log_file", str, source, None)
    port = _opt(data, "port", int, source, 0)
    return ServerConfig(
        port_file=Path(_req(data, "port_file", str, source)),
        cert=Path(_req(tls, "cert", str, f"{source}.tls")),
        key=Path(_req(tls, "key", str, f"{source}.tls")),
        tokens=tokens,
        cluster=cluster,
        listen_host=_opt(data, "listen_host", str, source, "127.0.0.1"),
        port=port,
        log_file=Path(log_file) if log_file else None,
        timing=Timing(float(speed)),
    )


def load_config(path: Path) -> ServerConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    return parse_config(data, str(path))
