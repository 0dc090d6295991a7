from engine.changes import Change, render_changes


def test_diff_and_render_mask_secrets():
    c = Change(
        "Merge mirror credentials",
        "file:/root/.docker/config.json",
        before={"auths": {"quay.io": {"auth": "cXVheTpzZWNyZXQ="}}},
        after={"auths": {"quay.io": {"auth": "cXVheTpzZWNyZXQ="}, "mirror:8443": {"auth": "bTpu"}}},
        command=["oc", "registry", "login", "--registry", "mirror:8443", "--auth-basic=m:n"],
    )
    text = c.render()
    assert "cXVheTpzZWNyZXQ=" not in text and "bTpu" not in text
    assert "+  mirror:8443:" in text
    assert "auth-basic=m:n" not in text
    assert c.action == "update"


def test_create_and_delete_and_nothing():
    assert Change("c", "x", None, {"a": 1}).action == "create"
    assert Change("d", "x", {"a": 1}, None).action == "delete"
    assert render_changes([]) == "No change is needed."


def test_multi_line_text_diffs_line_by_line_without_blank_lines():
    """A CA bundle in a ConfigMap: each certificate line is one diff line (the quoted YAML style would put a
    blank line between every two)."""
    from engine.changes import Change

    pem = "-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n"
    diff = Change("t", "configmap/x/y", before={"data": {}}, after={"data": {"ca.crt": pem}}).diff()
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert "    AAAA" in added and "    BBBB" in added
    assert all(line.strip() for line in added)
