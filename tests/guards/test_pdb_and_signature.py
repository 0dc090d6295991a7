"""Item 4: a PodDisruptionBudget that can never allow a disruption fails preflight unless the admin accepts it
(journaled). Item 5: signature apply verifies against the keys the cluster trusts, always: a signature made by a
key the cluster does not trust is refused even when that key is given with --keyring, and nothing is applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.cluster import CONFIGMAP, Cluster
from engine.context import Context
from engine.events import CheckStatus, Emitter
from engine.plan import Plan
from engine.preflight.base import PDB_DECISION, PreflightOptions, _Run
from engine.preflight.cluster import _check_pdbs
from engine.signatures import SIGNATURE_NAMESPACE, configmap_for_release
from sandbox.sigstore import generate_key, sign_release
from tests.guards.helpers import assert_clear_error, cli, plan_copy
from tests.procedures.test_upgrade import lab_plan


def _pdb_check(plan: Plan, options: PreflightOptions) -> tuple[Any, Context]:
    ctx = Context(plan, Emitter("preflight"))
    run = _Run(ctx, options)
    _check_pdbs(run)
    (result,) = run.results
    return result, ctx


def test_blocking_pdb_fails_unless_accepted(sandbox: Any, tmp_path: Path) -> None:
    plan = Plan.load(plan_copy(sandbox, tmp_path))
    failed, ctx = _pdb_check(plan, PreflightOptions())
    assert failed.status == CheckStatus.FAIL, failed
    assert "payments/payments-api-pdb" in failed.detail
    assert "ocp-airgap fix apply --plan P pdb/payments/payments-api-pdb" in failed.fix
    assert "--accept-blocking-pdbs" in failed.fix
    assert ctx.journal.decision("preflight", PDB_DECISION) is None

    accepted, ctx = _pdb_check(plan, PreflightOptions(accept_blocking_pdbs="drain by hand during the window"))
    assert accepted.status == CheckStatus.WARN and "accepted by the admin" in accepted.detail, accepted
    decision = ctx.journal.last("decision", "preflight")
    assert decision is not None and decision.data["value"] == {"pdbs": ["payments/payments-api-pdb"]}
    assert decision.data["reason"] == "drain by hand during the window"
    # the decision is kept: a later preflight without the flag still warns instead of failing
    again, _ = _pdb_check(plan, PreflightOptions())
    assert again.status == CheckStatus.WARN


def test_signature_by_a_key_the_cluster_does_not_trust_is_refused(sandbox: Any, tmp_path: Path) -> None:
    plan = lab_plan(sandbox, tmp_path)
    target = sandbox.release(sandbox.target_version)
    stranger = generate_key(tmp_path, user_id="Not trusted by the cluster <stranger@lab.invalid>").tsk
    keyring = tmp_path / "stranger.gpg"
    keyring.write_bytes(bytes(stranger.extract_certificate()))
    sig = sign_release(stranger, target.digest, target.pullspec)
    cm = configmap_for_release(target.version, target.digest, [sig])
    sigfile = tmp_path / "signature.yaml"
    import yaml

    sigfile.write_text(yaml.safe_dump(cm))
    before = Cluster.connect(sandbox.kubeconfig, "").get_or_none(
        CONFIGMAP, cm["metadata"]["name"], SIGNATURE_NAMESPACE
    )
    res = cli(
        "signature", "apply", "--plan", str(plan), "--file", str(sigfile), "--keyring", str(keyring), "--yes",
        state=tmp_path / "state",
    )  # fmt: skip
    assert_clear_error(res, 1)
    assert "keys the cluster trusts" in res.stdout + res.stderr
    assert "visible to the CVO" not in res.stdout
    after = Cluster.connect(sandbox.kubeconfig, "").get_or_none(
        CONFIGMAP, cm["metadata"]["name"], SIGNATURE_NAMESPACE
    )
    assert after == before, "nothing was applied"
    # the connected side's check with that key file still works: the key file is for 'signature verify'
    ok = cli(
        "signature", "verify", str(sigfile), "--digest", target.digest, "--keyring", str(keyring),
        state=tmp_path / "state",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
