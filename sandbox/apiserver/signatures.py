"""Release signature verification as the CVO does it (library-go ``pkg/verify``): keys from the
``verifier-public-key-*`` entries of ``openshift-config-managed/release-verification``, signatures from the
``binaryData`` of ConfigMaps labelled ``release.openshift.io/verification-signatures`` in
``openshift-config-managed`` (keys starting with ``sha256-<hex>``), listed at most once per 30 s. Every key
needs one valid signature; the JSON is decoded strictly. The signature stores (``store-*``) are on the
internet, which the disconnected cluster cannot reach."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pysequoia as ps

from .initial import CONFIGMAP
from .store import Store

SIGNATURE_LABEL = "release.openshift.io/verification-signatures"
VERIFICATION_CM = ("openshift-config-managed", "release-verification")
LIST_INTERVAL = 30.0  # simulated seconds between two listings of the signature ConfigMaps
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")

_SCHEMA: dict[str, Any] = {
    "critical": {
        "type": None,
        "image": {"docker-manifest-digest": None},
        "identity": {"docker-reference": None},
    },
    "optional": {"creator": None, "timestamp": None},
}


class StrictJSONError(ValueError):
    pass


def _check_fields(value: Any, schema: Any, path: str) -> None:
    if schema is None or value is None:
        return
    if not isinstance(value, dict):
        raise StrictJSONError(f"json: cannot unmarshal {type(value).__name__} into Go struct field {path}")
    for key, sub in value.items():
        if key not in schema:
            raise StrictJSONError(f'json: unknown field "{key}"')
        _check_fields(sub, schema[key], f"{path}.{key}")


def check_signature_json(payload: bytes, digest: str) -> None:
    """library-go ``verifyAtomicContainerSignature``: strict decoding and the three checks."""
    try:
        doc = json.loads(payload)
    except ValueError as exc:
        raise StrictJSONError(f"invalid signature JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise StrictJSONError("invalid signature JSON: not an object")
    _check_fields(doc, _SCHEMA, "signature")
    critical = doc.get("critical") or {}
    if critical.get("type") != "atomic container signature":
        raise StrictJSONError("signature is not the correct type")
    if not (critical.get("identity") or {}).get("docker-reference"):
        raise StrictJSONError("signature must have an identity")
    if (critical.get("image") or {}).get("docker-manifest-digest") != digest:
        raise StrictJSONError("signature digest does not match")


def load_certs(armored: str) -> list[ps.Cert]:
    data = armored.encode()
    try:
        return list(ps.Cert.split_bytes(data))
    except Exception:
        try:
            return [ps.Cert.from_bytes(data)]
        except Exception:
            return []


def verify_one(signature: bytes, certs: list[ps.Cert], digest: str) -> bool:
    if not certs:
        return False
    try:
        result = ps.verify(bytes=signature, store=lambda _ids: certs)
    except Exception:
        return False
    if not result.valid_sigs:
        return False
    try:
        check_signature_json(bytes(result.bytes or b""), digest)
    except StrictJSONError:
        return False
    return True


@dataclass
class SignatureVerifier:
    store: Store
    _cache_at: float = -1e18
    _cached: list[tuple[str, str, bytes]] = field(default_factory=list)

    def _signature_configmaps(self, now: float) -> list[tuple[str, str, bytes]]:
        if now - self._cache_at >= LIST_INTERVAL:
            items, _ = self.store.list(CONFIGMAP, "openshift-config-managed", SIGNATURE_LABEL)
            found: list[tuple[str, str, bytes]] = []
            for cm in items:
                for key, value in sorted((cm.get("binaryData") or {}).items()):
                    try:
                        found.append((cm["metadata"]["name"], key, base64.b64decode(value)))
                    except ValueError:
                        continue
            self._cached = found
            self._cache_at = now
        return self._cached

    def verify(self, digest: str, now: float) -> str | None:
        """None when verified, else the CVO's failure text (without "The update cannot be verified: ")."""
        if not _DIGEST.match(digest):
            return f"the provided release image digest must be of the form ALGO:HASH: {digest}"
        cm = self.store.find(CONFIGMAP, *VERIFICATION_CM)
        data = (cm or {}).get("data") or {}
        keyrings = {k: load_certs(v) for k, v in sorted(data.items()) if k.startswith("verifier-public-key-")}
        stores = [v for k, v in sorted(data.items()) if k.startswith("store-")]
        if not keyrings:
            return (
                f"unable to verify {digest} against keyrings: the release verifier is incorrectly configured: "
                f"no verifier-public-key-* entries in {VERIFICATION_CM[0]}/{VERIFICATION_CM[1]}"
            )
        prefix = digest.replace(":", "-")
        sigs = [
            (name, key, blob) for name, key, blob in self._signature_configmaps(now) if key.startswith(prefix)
        ]
        remaining = dict(keyrings)
        for _name, _key, blob in sigs:
            for kname in list(remaining):
                if verify_one(blob, remaining[kname], digest):
                    del remaining[kname]
            if not remaining:
                return None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        errors = []
        names = sorted({name for name, _, _ in sigs})
        for name in names:
            errors.append(f"{stamp}: prefix {prefix} in config map {name}: no more signatures to check")
        if not names:
            errors.append(
                f"{stamp}: prefix {prefix} in config map signatures-managed: no more signatures to check"
            )
        for url in stores:
            host = urlsplit(url).hostname or url
            errors.append(
                f"{stamp}: unable to retrieve signature from {url.rstrip('/')}/{digest.replace(':', '=')}/"
                f"signature-1: dial tcp: lookup {host}: no such host"
            )
        return f"unable to verify {digest} against keyrings: {', '.join(sorted(remaining))}\n[{', '.join(errors)}]"
