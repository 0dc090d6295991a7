import pytest

from engine.cluster import CLUSTER_VERSION, MHC, NODE, condition, current_version, selector_matches


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"matchLabels": {"app": "payments"}}, {"app": "payments", "x": "y"}, True),
        ({"matchLabels": {"app": "payments"}}, {"app": "other"}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            {"tier": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {}, True),
        ({}, {"app": "payments"}, False),
    ],
)
def test_selector_matches(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


def test_paths_and_oc_names():
    assert CLUSTER_VERSION.path(None, "version") == "/apis/config.openshift.io/v1/clusterversions/version"
    assert MHC.path("openshift-machine-api", "worker-mhc") == (
        "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machinehealthchecks/worker-mhc"
    )
    assert NODE.path(None, "n1", "status") == "/api/v1/nodes/n1/status"
    assert MHC.oc_name == "mhc"


def test_current_version_prefers_the_newest_completed_history_entry():
    cv = {
        "status": {
            "desired": {"version": "4.17.3"},
            "history": [
                {"state": "Partial", "version": "4.17.3"},
                {"state": "Completed", "version": "4.16.20"},
            ],
            "conditions": [{"type": "Progressing", "status": "True", "message": "Working towards 4.17.3"}],
        }
    }
    assert current_version(cv) == "4.16.20"
    assert (condition(cv, "Progressing") or {}).get("status") == "True"
    assert condition(cv, "Failing") is None
