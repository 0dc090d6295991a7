"""Sigstore (cosign) release signatures: the ``sha256-<hex>.sig`` tag beside the release image, the
``ClusterImagePolicy`` that requires it, and local verification before anything is applied.

From OpenShift 4.21 the ``openshift`` ClusterImagePolicy (scope ``quay.io/openshift-release-dev/ocp-release``) is
on by default: CRI-O verifies the release image's Sigstore signature when it pulls it — from the mirror when a
mirror set redirects the pull, so the signature must be in the mirror too. The OpenPGP signature ConfigMap is
still needed beside it (the CVO verifies that one; :mod:`engine.signatures`).

Formats, as the real implementations read them:

- The signature image (cosign ``pkg/oci/static``, ``pkg/oci/remote`` ``SignatureTag``): an OCI image tagged
  ``sha256-<hex>.sig`` in the repository of the signed image; each layer of media type
  ``application/vnd.dev.cosign.simplesigning.v1+json`` holds a *simple signing* payload and the base64 signature
  of exactly those bytes in the layer annotation ``dev.cosignproject.cosign/signature``.
- The payload (containers/image ``signature/internal/cosign_payload.go``): a JSON object with exactly
  ``critical`` and ``optional``; ``critical`` has exactly ``type`` (``cosign container image signature``),
  ``image.docker-manifest-digest`` and ``identity.docker-reference``.
- The check (containers/image ``VerifyCosignPayload``): the signature verifies over the payload bytes with the
  policy's public key and SHA-256 (sigstore ``LoadVerifier``: ECDSA, RSA PKCS#1 v1.5, Ed25519), the digest is the
  image's manifest digest, and the identity matches the policy's ``signedIdentity`` (default
  ``MatchRepoDigestOrExact``: for an image pulled by digest, the signed reference names the same repository).
- Where CRI-O looks (containers/image ``docker/docker_image_src.go``
  ``appendSignaturesFromSigstoreAttachments``): in the repository the image was *actually* pulled from (the
  mirror), tag ``sha256-<hex>.sig``; and the OCI referrers of the image when the registry serves them.
- The policy (openshift/api ``config/v1`` ``ClusterImagePolicy``): ``spec.scopes`` (repositories, namespaces or
  hosts; the most specific wins), ``spec.policy.rootOfTrust.publicKey.keyData`` (base64 of a PEM public key),
  ``spec.policy.signedIdentity.matchPolicy`` (``MatchRepoDigestOrExact``, ``MatchRepository``,
  ``ExactRepository`` with ``exactRepository.repository``, ``RemapIdentity`` with ``remapIdentity.prefix`` /
  ``signedPrefix``).

Crypto is done by ``cryptography``; nothing here implements a primitive.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from engine.errors import AirgapError as AirgapErrorBase
from engine.errors import InputError, RegistryError, SignatureError
from engine.oci.registry import ImageStore, Manifest

SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
DEFAULT_RELEASE_SCOPE = "quay.io/openshift-release-dev/ocp-release"
POLICY_NAME = "openshift"
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # containers/image iolimits.MaxSignatureBodySize
MATCH_POLICIES = ("MatchRepoDigestOrExact", "MatchRepository", "ExactRepository", "RemapIdentity")


def signature_tag(digest: str) -> str:
    """``sha256:abc…`` → ``sha256-abc….sig`` (cosign's tag for the signature image of that manifest)."""
    algo, _, hexpart = digest.partition(":")
    if not algo or not hexpart:
        raise InputError(f"{digest!r} is not a digest", fix="Use the release digest sha256:<64 hex>.")
    return f"{algo}-{hexpart}.sig"


def repository_of(reference: str) -> str:
    """``host/ns/repo@sha256:…`` or ``host/ns/repo:tag`` → ``host/ns/repo``."""
    ref = reference.split("@", 1)[0]
    last = ref.rsplit("/", 1)
    if len(last) == 2 and ":" in last[1]:
        ref = last[0] + "/" + last[1].split(":", 1)[0]
    return ref


# ----- keys -------------------------------------------------------------------------------------------------
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def load_public_key(pem: bytes, where: str = "the public key") -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(
            f"{where} is not a PEM public key ({exc})",
            fix="Give the Sigstore public key in PEM form (-----BEGIN PUBLIC KEY-----), e.g. the keyData of the "
            "cluster's ClusterImagePolicy decoded from base64.",
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise SignatureError(
            f"{where} is a {type(key).__name__}, which Sigstore does not use",
            fix="Use the ECDSA, RSA or Ed25519 public key the release is signed with.",
        )
    return key


def key_id(key: PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, first 16 hex digits: how the key is named on screen."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def key_description(key: PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return "Ed25519"


def verify_blob(key: PublicKey, payload: bytes, b64_signature: str) -> None:
    """The signature (base64, as in the layer annotation) is valid for ``payload`` with ``key`` and SHA-256."""
    try:
        sig = base64.b64decode(b64_signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the signature annotation is not valid base64") from None
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(sig, payload)
    except InvalidSignature:
        raise SignatureError("cryptographic signature verification failed") from None


# ----- the policy ---------------------------------------------------------------------------------------------
@dataclass
class Policy:
    """What CRI-O enforces for a scope: the key and how the signed identity must match."""

    name: str
    scopes: list[str]
    key_pem: bytes = field(repr=False)
    match_policy: str = "MatchRepoDigestOrExact"
    exact_repository: str = ""
    remap_prefix: str = ""
    remap_signed_prefix: str = ""
    source: str = ""
    """Where the policy came from: ``ClusterImagePolicy/openshift`` or a key file."""

    @property
    def key(self) -> PublicKey:
        return load_public_key(self.key_pem, f"the public key of {self.source or self.name}")

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def scope_for(self, repository: str) -> str | None:
        """The most specific scope covering ``repository`` (``host[/path]``), or None."""
        best: str | None = None
        for scope in self.scopes:
            s = repository_of(scope).rstrip("/")
            host = repository.split("/", 1)[0]
            covered = repository == s or repository.startswith(s + "/")
            if s.startswith("*."):
                covered = host.split(":", 1)[0].endswith(s[1:])
            if covered and (best is None or len(s) > len(best)):
                best = s
        return best

    def expected_identity(self, image_repository: str) -> str:
        """The repository the signature's ``docker-reference`` must name for an image pulled by digest."""
        if self.match_policy == "ExactRepository":
            return self.exact_repository
        if self.match_policy == "RemapIdentity" and (
            image_repository == self.remap_prefix or image_repository.startswith(self.remap_prefix + "/")
        ):
            return self.remap_signed_prefix + image_repository[len(self.remap_prefix) :]
        return image_repository

    def identity_ok(self, signed_reference: str, image_repository: str) -> bool:
        want = self.expected_identity(image_repository)
        signed_repo = repository_of(signed_reference)
        if self.match_policy == "MatchRepoDigestOrExact":
            # by digest: the same repository; the signed reference may carry a tag or digest
            return signed_repo == want
        return signed_repo == want

    def describe(self) -> str:
        ident = self.match_policy + (
            f" {self.exact_repository}"
            if self.match_policy == "ExactRepository"
            else f" {self.remap_prefix} → {self.remap_signed_prefix}"
            if self.match_policy == "RemapIdentity"
            else ""
        )
        return (
            f"{self.source or self.name}: {key_description(self.key)} key {self.key_id}, scopes "
            f"{', '.join(self.scopes)}, signedIdentity {ident}"
        )


def policy_from_object(obj: dict[str, Any]) -> Policy:
    """A ``ClusterImagePolicy`` (config.openshift.io v1 or v1alpha1) as served by the API."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    spec = obj.get("spec") or {}
    where = f"ClusterImagePolicy {name}"
    scopes = [str(s) for s in spec.get("scopes") or []]
    trust = (spec.get("policy") or {}).get("rootOfTrust") or {}
    ptype = trust.get("policyType", "")
    if ptype != "PublicKey":
        raise SignatureError(
            f"{where} uses root of trust {ptype or '(none)'}; only PublicKey policies can be checked here",
            fix="Check the release signature with 'cosign verify' for this policy type, or give the key with "
            "--sigstore-key.",
        )
    raw = (trust.get("publicKey") or {}).get("keyData") or ""
    try:
        pem = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{where}: spec.policy.rootOfTrust.publicKey.keyData is not base64") from None
    load_public_key(pem, f"the public key of {where}")
    ident = (spec.get("policy") or {}).get("signedIdentity") or {}
    match = str(ident.get("matchPolicy") or "MatchRepoDigestOrExact")
    if match not in MATCH_POLICIES:
        raise SignatureError(f"{where}: unknown signedIdentity.matchPolicy {match!r}")
    remap = ident.get("remapIdentity") or {}
    return Policy(
        name=name,
        scopes=scopes,
        key_pem=pem,
        match_policy=match,
        exact_repository=str((ident.get("exactRepository") or {}).get("repository") or ""),
        remap_prefix=str(remap.get("prefix") or ""),
        remap_signed_prefix=str(remap.get("signedPrefix") or ""),
        source=f"ClusterImagePolicy/{name}",
    )


def policy_from_key_file(path: str | Path, scope: str) -> Policy:
    """A key file on the connected side (no cluster to read the policy from): default identity rules."""
    p = Path(path).expanduser()
    try:
        pem = p.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the Sigstore public key {p}: {exc.strerror}",
            fix="Give the PEM public key file the release is signed with.",
        ) from None
    load_public_key(pem, f"the public key in {p}")
    return Policy(name=p.name, scopes=[scope], key_pem=pem, source=f"key file {p}")


# ----- the payload ---------------------------------------------------------------------------------------------
def _exact(obj: Any, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise SignatureError(f"the signature payload's {where} is not a JSON object")
    if set(obj) != keys:
        raise SignatureError(
            f"the signature payload's {where} has fields {sorted(obj)}, expected exactly {sorted(keys)}"
        )
    return obj


def parse_payload(payload: bytes) -> tuple[str, str]:
    """(docker-manifest-digest, docker-reference) of a simple signing payload, checked as strictly as
    containers/image does (exact fields, the cosign type)."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"the signature payload is not JSON ({exc})") from None
    top = _exact(doc, {"critical", "optional"}, "top level")
    critical = _exact(top["critical"], {"type", "image", "identity"}, "critical")
    if critical["type"] != SIGNATURE_TYPE:
        raise SignatureError(f"unrecognized signature type {critical['type']!r}")
    image = _exact(critical["image"], {"docker-manifest-digest"}, "critical.image")
    identity = _exact(critical["identity"], {"docker-reference"}, "critical.identity")
    return str(image["docker-manifest-digest"]), str(identity["docker-reference"])


# ----- verification ---------------------------------------------------------------------------------------------
@dataclass
class SigstoreResult:
    digest: str
    tag: str
    where: str
    """``store repository:tag`` the signature image was read from."""
    identity: str = ""
    key_id: str = ""
    key_type: str = ""
    policy: str = ""
    scope: str = ""
    layers: int = 0
    signature_manifest: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.identity) and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "tag": self.tag,
            "where": self.where,
            "identity": self.identity,
            "key_id": self.key_id,
            "key_type": self.key_type,
            "policy": self.policy,
            "scope": self.scope,
            "layers": self.layers,
            "signature_manifest": self.signature_manifest,
            "verified": self.ok,
            "problems": list(self.problems),
        }


def _read_blob(store: ImageStore, repo: str, digest: str, size: int) -> bytes:
    if size > MAX_PAYLOAD_BYTES:
        raise SignatureError(f"signature layer {digest} is {size} bytes, more than a signature can be")
    out = bytearray()
    with store.open_blob(repo, digest) as chunks:
        for c in chunks:
            out += c
            if len(out) > MAX_PAYLOAD_BYTES:
                raise SignatureError(f"signature layer {digest} is larger than a signature can be")
    data = bytes(out)
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise SignatureError(f"signature layer {digest} does not match its digest")
    return data


def verify_manifest(
    store: ImageStore, repo: str, sig_manifest: Manifest, digest: str, policy: Policy, image_repository: str
) -> tuple[str, list[str], int]:
    """Check every simple-signing layer of one signature manifest; (identity of the first valid one, the
    problems of the others, layers seen). Accepted when one layer passes, as containers/image does."""
    key = policy.key
    problems: list[str] = []
    layers = 0
    for layer in sig_manifest.doc.get("layers") or []:
        if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLESIGNING_MEDIA_TYPE:
            continue
        layers += 1
        ldigest = str(layer.get("digest", ""))
        try:
            b64 = str((layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION) or "")
            if not b64:
                raise SignatureError(f"layer {ldigest[:19]}… has no {SIGNATURE_ANNOTATION} annotation")
            payload = _read_blob(store, repo, ldigest, int(layer.get("size", 0)))
            verify_blob(key, payload, b64)
            signed_digest, identity = parse_payload(payload)
            if signed_digest != digest:
                raise SignatureError(
                    f"the payload signs docker-manifest-digest {signed_digest}, not the release {digest}"
                )
            if not policy.identity_ok(identity, image_repository):
                raise SignatureError(
                    f"the payload's identity {identity} does not match the policy ({policy.match_policy}: "
                    f"{policy.expected_identity(image_repository)})"
                )
            return identity, problems, layers
        except SignatureError as exc:
            problems.append(exc.message)
    if layers == 0:
        problems.append(f"no {SIMPLESIGNING_MEDIA_TYPE} layer")
    return "", problems, layers


def verify_release(
    store: ImageStore, repo: str, digest: str, policy: Policy, image_repository: str
) -> SigstoreResult:
    """Find the release's signature image in ``repo`` of ``store`` (the mirror, the media or the source) and
    verify it against ``policy`` for the image's logical repository ``image_repository``."""
    tag = signature_tag(digest)
    result = SigstoreResult(
        digest=digest,
        tag=tag,
        where=f"{store.name}/{repo}:{tag}",
        policy=policy.source or policy.name,
        scope=policy.scope_for(image_repository) or "",
    )
    key = policy.key
    result.key_id, result.key_type = key_id(key), key_description(key)
    try:
        have = store.head_manifest(repo, tag)
        if have is None:
            result.problems.append(f"no signature image {tag} in {store.name}/{repo}")
            return result
        manifest = store.get_manifest(repo, tag)
    except RegistryError as exc:
        result.problems.append(f"cannot read {tag}: {exc.message}")
        return result
    result.signature_manifest = manifest.digest
    identity, problems, layers = verify_manifest(store, repo, manifest, digest, policy, image_repository)
    result.layers = layers
    if identity:
        result.identity = identity
    else:
        result.problems.extend(problems or ["no valid signature"])
    return result


def require_valid(result: SigstoreResult, what: str) -> None:
    """Raise one clear error when ``result`` does not verify."""
    if result.ok:
        return
    missing = any(p.startswith("no signature image") for p in result.problems)
    raise SignatureError(
        f"the Sigstore signature of the release in {what} "
        + ("is missing" if missing else "does not verify")
        + f": {'; '.join(result.problems)}",
        fix=(
            "Mirror the signature tag with the release: run 'ocp-airgap mirror' again (it copies "
            f"{result.tag} beside the release image; with the oc backend it is copied separately)."
            if missing
            else "The signature was not made for this release with this key: check that the mirror holds the "
            "release the plan names and that the policy's key is the release key."
        ),
    )


def requires_sigstore(version: str) -> bool:
    """4.21 and later: the ``openshift`` ClusterImagePolicy is on by default."""
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (4, 21)
    except (ValueError, IndexError):
        return False


def is_sigstore_artifact(artifact_type: str) -> bool:
    """containers/image ``isSigstoreReferrerArtifactType``: empty (cosign v1) or a cosign/sigstore type."""
    return artifact_type == "" or artifact_type.startswith(
        ("application/vnd.dev.cosign.", "application/vnd.dev.sigstore.")
    )


def sigstore_referrers(store: ImageStore, repo: str, digest: str) -> list[str]:
    """Digests of the sigstore referrers of ``digest`` (OCI 1.1 referrers API) when the store is a registry
    that serves them; empty when it does not (distribution 2.x answers 404)."""
    from engine.oci.registry import RegistryClient

    if not isinstance(store, RegistryClient):
        return []
    try:
        resp = store.request(
            "GET",
            f"/v2/{repo}/referrers/{digest}",
            repository=repo,
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        )
    except RegistryError:
        return []
    if resp.status_code != 200:
        return []
    try:
        doc = resp.json()
    except ValueError:
        return []
    out: list[str] = []
    for m in (doc.get("manifests") if isinstance(doc, dict) else None) or []:
        if isinstance(m, dict) and is_sigstore_artifact(str(m.get("artifactType") or "")):
            d = str(m.get("digest") or "")
            if d.startswith("sha256:") and d not in out:
                out.append(d)
    return out


def inspect_release(store: ImageStore, repo: str, digest: str) -> SigstoreResult:
    """Without a key: the signature image exists and its payloads name this digest (no crypto claim)."""
    tag = signature_tag(digest)
    result = SigstoreResult(digest=digest, tag=tag, where=f"{store.name}/{repo}:{tag}")
    try:
        manifest = store.get_manifest(repo, tag)
    except RegistryError as exc:
        result.problems.append(f"cannot read {tag}: {exc.message}")
        return result
    result.signature_manifest = manifest.digest
    for layer in manifest.doc.get("layers") or []:
        if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLESIGNING_MEDIA_TYPE:
            continue
        result.layers += 1
        try:
            payload = _read_blob(store, repo, str(layer.get("digest", "")), int(layer.get("size", 0)))
            signed, identity = parse_payload(payload)
        except (SignatureError, RegistryError) as exc:
            result.problems.append(exc.message)
            continue
        if signed != digest:
            result.problems.append(f"a payload signs {signed}, not {digest}")
        elif not result.identity:
            result.identity = identity
    if not result.layers:
        result.problems.append(f"no {SIMPLESIGNING_MEDIA_TYPE} layer")
    return result


# ----- the cluster's policy ---------------------------------------------------------------------------------------
def _cip_resource() -> Any:
    from engine.cluster import Resource

    return Resource(
        "config.openshift.io", "v1", "clusterimagepolicies", "ClusterImagePolicy", False, "clusterimagepolicy"
    )


def cluster_policies(cluster: Any) -> list[Policy]:
    """Every PublicKey ClusterImagePolicy of the cluster (none when the API does not serve the type)."""
    from engine.errors import NotFound

    try:
        items = cluster.list(_cip_resource())
    except NotFound:
        return []
    out = []
    for obj in items:
        try:
            out.append(policy_from_object(obj))
        except SignatureError:
            continue
    return out


def policy_covering(policies: list[Policy], image_repository: str) -> Policy | None:
    """The policy whose most specific scope covers the repository (the most specific scope wins)."""
    best: tuple[int, Policy] | None = None
    for pol in policies:
        scope = pol.scope_for(image_repository)
        if scope is not None and (best is None or len(scope) > best[0]):
            best = (len(scope), pol)
    return best[1] if best else None


# ----- what the payload pod says ------------------------------------------------------------------------------------
SIGNATURE_FAILURE_REASON = "SignatureValidationFailed"


def payload_pod_signature_failure(cluster: Any) -> str:
    """The kubelet's message when the CVO's release payload pod (``version-…`` in ``openshift-cluster-version``,
    label ``k8s-app=retrieve-openshift-release``) waits with ``SignatureValidationFailed``; empty otherwise."""
    from engine.cluster import POD

    try:
        pods = cluster.list(
            POD, namespace="openshift-cluster-version", label_selector="k8s-app=retrieve-openshift-release"
        )
    except Exception:  # noqa: BLE001 - the explanation is a nicety; the watch goes on without it
        return ""
    for pod in pods:
        st = pod.get("status") or {}
        for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == SIGNATURE_FAILURE_REASON:
                return str(waiting.get("message") or SIGNATURE_FAILURE_REASON)
    return ""


def check_release_in_mirror(ctx: Any, digest: str) -> SigstoreResult | None:
    """The Sigstore signature of ``digest`` in the plan's mirror, verified against the cluster's
    ClusterImagePolicy covering the release source (or ``endpoints.sigstore_key``), emitted as a check.
    None when neither a policy nor a 4.21+ target asks for it, or when there is no key to check it with."""
    from engine.events import CheckStatus
    from engine.mirror.core import _registries

    plan = ctx.plan
    image_repo = repository_of(plan.endpoints.release_source)
    policy: Policy | None = None
    where = ""
    try:
        policy = policy_covering(cluster_policies(ctx.cluster), image_repo)
    except AirgapErrorBase as exc:  # no cluster here: the key file, if any
        where = exc.message
    if policy is None and plan.endpoints.sigstore_key:
        policy = policy_from_key_file(plan.resolve_path(plan.endpoints.sigstore_key), image_repo)
    if policy is None:
        if requires_sigstore(plan.release.version):
            ctx.emit.check(
                "Sigstore signature",
                CheckStatus.WARN,
                "not verified: no ClusterImagePolicy of the cluster covers "
                f"{image_repo} and endpoints.sigstore_key is not set{' (' + where + ')' if where else ''}",
                fix="Set endpoints.sigstore_key to the release's Sigstore public key.",
            )
        return None
    regs = _registries(ctx, 2)
    try:
        result = verify_release(
            regs.get(plan.mirror.registry), plan.mirror.repository, digest, policy, image_repo
        )
    finally:
        regs.close()
    if result.ok:
        ctx.emit.check(
            "Sigstore signature",
            CheckStatus.PASS,
            f"{plan.mirror_repository}:{result.tag} is valid for {digest}: identity {result.identity}, verified "
            f"with the {result.key_type} key {result.key_id} of {result.policy}",
        )
    else:
        ctx.emit.check(
            "Sigstore signature",
            CheckStatus.FAIL,
            "; ".join(result.problems),
            fix="Run 'ocp-airgap mirror' again: it copies the signature tag with the release.",
        )
    return result


# oc-mirror v2 puts the release image in <repository>/openshift/release-images (oc-mirror
# internal/pkg/release/const.go) and, from 4.21, its signature tag beside it
OC_MIRROR_RELEASE_SUBPATH = "openshift/release-images"


def locate_signature(store: ImageStore, repositories: list[str], digest: str) -> tuple[str, str] | None:
    """(repository, signature manifest digest) of the first repository holding ``sha256-<hex>.sig``."""
    tag = signature_tag(digest)
    for repo in repositories:
        try:
            found = store.head_manifest(repo, tag)
        except RegistryError:
            continue
        if found:
            return repo, found
    return None


def pick_up_oc_mirror(ctx: Any, digest: str) -> dict[str, Any]:
    """After an oc-mirror run into the mirror registry: where oc-mirror put the release's signature tag (it
    mirrors it itself from 4.21), emitted as a check. Empty when the digest is unknown."""
    from engine.events import CheckStatus
    from engine.mirror.core import _registries

    plan = ctx.plan
    if not digest:
        ctx.emit.info(
            "Sigstore signature not looked up: the release digest is not in the plan (ocp-airgap release)."
        )
        return {}
    repos = [f"{plan.mirror.repository}/{OC_MIRROR_RELEASE_SUBPATH}", plan.mirror.repository]
    regs = _registries(ctx, 1)
    try:
        found = locate_signature(regs.get(plan.mirror.registry), repos, digest)
    finally:
        regs.close()
    tag = signature_tag(digest)
    if found:
        ctx.emit.check(
            "Sigstore signature", CheckStatus.PASS, f"oc-mirror wrote {plan.mirror.registry}/{found[0]}:{tag}"
        )
        return {"tag": tag, "repository": found[0], "signature_manifest": found[1]}
    required = requires_sigstore(plan.release.version)
    ctx.emit.check(
        "Sigstore signature",
        CheckStatus.FAIL if required else CheckStatus.WARN,
        f"oc-mirror did not write {tag} beside the release ({', '.join(repos)})",
        fix="Use oc-mirror 4.21 or later (it mirrors the signature), or copy it: oc image mirror "
        f"{plan.endpoints.release_source}:{tag} {plan.mirror.registry}/{repos[0]}:{tag}",
    )
    return {"tag": tag, "repository": "", "problems": ["missing"]}
