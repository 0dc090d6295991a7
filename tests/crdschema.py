"""Validate objects against the ``openAPIV3Schema`` of the real CRD manifests vendored in tests/data/crds.

A small validator for the subset of OpenAPI v3 those structural schemas use, with the Kubernetes meaning of
each keyword (k8s.io/apiextensions-apiserver ``pkg/apiserver/schema``):

- ``type`` (object, array, string, integer, number, boolean); ``nullable: true`` lets ``null`` through (without
  it the API server rejects a null); ``x-kubernetes-int-or-string`` takes an integer or a string;
- ``properties`` / ``additionalProperties`` / ``required``; a field the schema does not know is reported,
  because the API server silently prunes it (the engine would believe it wrote something it did not), unless
  ``x-kubernetes-preserve-unknown-fields: true``;
- ``enum``, ``pattern`` (Python ``re.search``; the patterns used are plain ECMA/RE2 subsets), ``maxLength`` /
  ``minLength``, ``maxItems`` / ``minItems``, ``minimum`` / ``maximum``, ``items``, ``anyOf``;
- ``metadata`` is checked by the API server itself (ObjectMeta), not by the CRD schema: only its type is checked;
- ignored: ``format``, ``default``, ``description``, ``x-kubernetes-list-type`` / ``-map-keys`` /
  ``-validations`` (CEL rules are not evaluated here).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CRD_DIR = Path(__file__).parent / "data" / "crds"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


@cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → openAPIV3Schema, for every served version of every vendored CRD."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema:
                out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return out


def _type_ok(value: Any, expected: str) -> bool:
    if expected in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(expected, (object,)))


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Every problem of ``value`` against ``schema`` as ``path: what``; [] when valid."""
    where = path or "<root>"
    if value is None:
        return (
            [] if schema.get("nullable") else [f"{where}: null is not allowed (the schema is not nullable)"]
        )
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return [f"{where}: expected an integer or a string, got {type(value).__name__}"]
        return []
    if "anyOf" in schema and all(validate(value, alt, path) for alt in schema["anyOf"]):
        return [f"{where}: matches none of anyOf"]
    expected = schema.get("type")
    if expected and not _type_ok(value, expected):
        return [f"{where}: expected {expected}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: more than {schema['maximum']}")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in value:
                errors.append(f"{path + '.' if path else ''}{key}: required")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if key in props:
                if sub == "metadata":
                    if not isinstance(item, dict):
                        errors.append("metadata: expected object")
                    continue
                errors += validate(item, props[key], sub)
            elif isinstance(extra, dict):
                errors += validate(item, extra, sub)
            elif extra is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                continue
            else:
                errors.append(f"{sub}: unknown field (the API server prunes it)")
    return errors


def validate_object(obj: dict[str, Any]) -> list[str]:
    """Validate a whole object against the CRD of its apiVersion and kind."""
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    schema = schemas().get(key)
    if schema is None:
        return [f"no vendored CRD for {key[0]} {key[1]}"]
    name = (obj.get("metadata") or {}).get("name", "?")
    return [f"{key[1]}/{name}: {e}" for e in validate(obj, schema)]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what the API server applies for application/merge-patch+json)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def served_problems(cluster: Any) -> tuple[int, list[str]]:
    """List, through the API, every object of every kind with a vendored CRD (an engine ``Cluster``) and validate
    it. Returns (objects checked, problems). A kind the cluster does not serve (a disabled capability) is skipped."""
    from engine.errors import NotFound
    from sandbox.apiserver.resources import RESOURCE_TYPES

    checked = 0
    problems: list[str] = []
    for rt in RESOURCE_TYPES:
        if (rt.api_version, rt.kind) not in schemas():
            continue
        base = f"/apis/{rt.group}/{rt.version}/{rt.plural}"
        try:
            listing = cluster.request("GET", base)
        except NotFound:
            continue
        for obj in listing.get("items") or []:
            checked += 1
            problems += validate_object({**obj, "apiVersion": rt.api_version, "kind": rt.kind})
    return checked, problems
