import base64
import json

import pytest

from engine import redact as r


@pytest.fixture(autouse=True)
def _clean():
    r.forget_all_secrets()
    yield
    r.forget_all_secrets()


def test_auth_members_of_auth_files_are_masked():
    auth = base64.b64encode(b"mirror-user:S3cret-pass").decode()
    doc = json.dumps({"auths": {"registry.example.com:8443": {"auth": auth, "email": "a@example.com"}}})
    out = r.redact(doc)
    assert auth not in out
    assert "registry.example.com:8443" in out
    assert "a@example.com" in out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig", "eyJhbGciOiJSUzI1NiJ9"),
        ("curl https://admin:hunter2hunter@registry.example.com/v2/", "hunter2hunter"),
        ("token: sha256~AbCdEfGhIjKlMnOpQrStUvWxYz012345", "AbCdEfGhIjKlMnOp"),
        ("skopeo copy --dest-creds user:verysecret docker://a docker://b", "verysecret"),
        ("oc login --token=sha256~zzzzzzzzzzzzzzzzzzzz https://api", "zzzzzzzzzzzzzzzz"),
        ('password: "p@ss w0rd!"', "p@ss w0rd!"),
        ("WWW-Authenticate header: Basic bWlycm9yOnNlY3JldHBhc3M=", "bWlycm9yOnNlY3JldHBhc3M"),
    ],
)
def test_patterns(text, secret):
    assert secret not in r.redact(text)


def test_registered_secret_and_its_base64_forms_are_masked_anywhere():
    r.register_credentials("mirror", "correct-horse-battery")
    b64 = base64.b64encode(b"mirror:correct-horse-battery").decode()
    text = (
        f"weird place correct-horse-battery and {b64} and "
        + base64.b64encode(b"correct-horse-battery").decode()
    )
    out = r.redact(text)
    assert "correct-horse-battery" not in out
    assert b64 not in out
    assert out.count(r.MASK) == 3


def test_redact_obj_masks_keys_recursively_and_leaves_the_rest():
    obj = {
        "metadata": {"name": "pull-secret"},
        "data": {".dockerconfigjson": "eyJhdXRocyI6e319"},
        "list": [{"token": "x"}],
    }
    out = r.redact_obj(obj)
    assert out["metadata"]["name"] == "pull-secret"
    assert out["data"][".dockerconfigjson"] == r.MASK
    assert out["list"][0]["token"] == r.MASK
    assert obj["data"][".dockerconfigjson"] == "eyJhdXRocyI6e319"  # input untouched


def test_ordinary_text_is_untouched():
    text = "Working towards 4.17.3: 512 of 890 done (57% complete), waiting on machine-config"
    assert r.redact(text) == text
