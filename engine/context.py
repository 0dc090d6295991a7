"""What every engine operation receives: the plan, an emitter for live events, a cancel flag, and lazily the
cluster connection and the cluster's journal.

Operations are plain functions ``op(ctx, ...) -> result``; a Textual worker or the headless CLI builds the
context, the operation never knows who is watching.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.errors import Cancelled
from engine.events import Emitter
from engine.journal import Journal
from engine.plan import Plan

if TYPE_CHECKING:  # the kubernetes client is imported only when a cluster is used (mirroring needs none)
    from engine.cluster import Cluster


@dataclass
class Context:
    plan: Plan
    emit: Emitter
    cancel: threading.Event = field(default_factory=threading.Event)
    _cluster: Cluster | None = field(default=None, repr=False)
    _journal: Journal | None = field(default=None, repr=False)

    @property
    def kubeconfig(self) -> str:
        from engine.cluster import kubeconfig_path

        return kubeconfig_path(self.plan.resolve_path(self.plan.cluster.kubeconfig))

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            from engine.cluster import Cluster
            from engine.workflow import require_cluster_side

            require_cluster_side(self.plan)

            self._cluster = Cluster.connect(self.kubeconfig, self.plan.cluster.context)
        return self._cluster

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            from engine.workflow import CONNECTED, journal_for, role_of

            server = self._cluster.server if self._cluster and role_of(self.plan) != CONNECTED else ""
            self._journal = journal_for(self.plan, server=server)
        return self._journal

    def for_step(self, step: str) -> Context:
        """The same context with an emitter named for ``step`` (same sinks, cluster, journal, cancel flag)."""
        return Context(self.plan, self.emit.child(step), self.cancel, self._cluster, self._journal)

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()
