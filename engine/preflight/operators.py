"""Preflight: installed OLM operators against the target minor.

An operator whose installed CSV declares ``olm.maxOpenShiftVersion`` below the target minor makes OLM set
``Upgradeable=False`` on the ``operator-lifecycle-manager`` ClusterOperator, and the Cluster Version Operator then
refuses the minor update (see :mod:`engine.catalogs.installed`). This check names each such operator, why, and —
from the catalog read last (``ocp-airgap catalog operators`` / ``catalog mirror``) — the channel and version to
update it to first. z-stream updates are not gated.
"""

from __future__ import annotations

from engine.catalogs import installed as inst
from engine.preflight.base import FAIL, PASS, WARN, _Run

NAME = "Installed operators"
WHY = (
    "An installed operator that declares olm.maxOpenShiftVersion below the target minor makes OLM report "
    "Upgradeable=False, and the Cluster Version Operator refuses the minor update."
)


def _check_installed_operators(run: _Run) -> None:
    target = run.target
    saved = inst.load_saved_catalog()
    ops = inst.assess(run.ctx, target, saved[1] if saved else None)
    blocking = [o for o in ops if o.blocks(target)]
    if not blocking:
        run.check(NAME, PASS, f"{len(ops)} operator(s); none blocks {target or 'the target'}", why="olm")
        return
    if run.minor_update is False:
        run.check(
            NAME,
            PASS,
            f"{', '.join(o.csv for o in blocking)} would block the next minor; {run.current} -> {target} stays "
            "within the minor version, which is not gated",
            why="olm",
        )
        return
    parts, fixes = [], []
    for o in blocking:
        parts.append(f"{o.namespace}/{o.subscription or o.csv} ({o.package} {o.version}): {o.why(target)}")
        if o.update_to:
            fixes.append(
                f"update {o.package} to {o.update_to['version']} in channel {o.update_to['channel']} first: "
                f"ocp-airgap catalog channel --plan P {o.namespace}/{o.subscription} {o.update_to['channel']}"
            )
        elif saved:
            fixes.append(f"no version of {o.package} compatible with {target} is in the catalog {saved[0]}")
        else:
            fixes.append(
                f"find the version of {o.package} to update to: ocp-airgap catalog operators --plan P"
            )
    status = FAIL if run.minor_update else WARN
    run.check(
        NAME,
        status,
        f"{len(blocking)} operator(s) block {target}: " + "; ".join(parts),
        fix="; ".join(fixes)
        + " (mirror the catalog and apply it first: ocp-airgap catalog mirror / catalog apply)",
        why="olm",
    )
