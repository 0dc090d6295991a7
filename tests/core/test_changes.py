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
