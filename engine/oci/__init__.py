"""OCI registries and release payloads: the registry client (``registry``: schema 2 / OCI manifests, blobs,
Basic and Bearer auth, TLS, retries) and the release image's own files (``payload``: release-metadata and
image-references read from its layers)."""
