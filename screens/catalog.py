"""Operator catalog (optional): point a CatalogSource at a new mirrored index image by digest (the previous
image is journaled for restore) and wait until the catalog is READY. Skip it when no catalog is mirrored."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine import workflow
from engine.context import Context
from engine.util import BY_DIGEST
from screens._engine import engine_module, unavailable_text
from screens.base import PlanValidator, StepScreen

NEEDS = ("catalog", "list_catalogs", "prepare_set", "set_image", "wait_ready")


class CatalogScreen(StepScreen):
    STEP = "catalog"
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "primary", "Set image"),
        Binding("s", "skip", "Skip"),
    ]

    def compose_body(self) -> ComposeResult:
        yield self.field("Catalog", "catalog-name", "", placeholder="e.g. redhat-operators")
        yield self.field(
            "Index image",
            "catalog-image",
            "",
            PlanValidator(lambda v: bool(BY_DIGEST.match(v)), "expected <registry>/<repo>@sha256:<64 hex>"),
            placeholder="mirrored index image by digest",
        )
        yield Static("", classes="field-error", id="field-error")
        yield Static("", id="catalogs")

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def load(self) -> None:
        cat = engine_module(*NEEDS)
        if cat is None:
            self.query_one("#catalogs", Static).update(escape(unavailable_text(*NEEDS)))
            return
        if self.wizard.live and not self.run.running:
            self.start("Listing the CatalogSources", cat.list_catalogs, self._listed)

    def _listed(self, catalogs: list[Any]) -> None:
        lines = [f"{c.name}: {c.state or '?'}  {c.image}" for c in catalogs[:4]] or ["No CatalogSource."]
        self.query_one("#catalogs", Static).update(escape("\n".join(lines)))

    @on(Input.Changed, "#catalog-image")
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape("; ".join(event.validation_result.failure_descriptions)))
        else:
            error.update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def primary_hint(self) -> str:
        return "give a catalog and its new index image and press r, or press s to skip this step"

    def action_primary(self) -> None:
        cat = engine_module(*NEEDS)
        if cat is None:
            self.notify(unavailable_text(*NEEDS), severity="error")
            return
        if not self.check_not_running() or self.check_blocked():
            return
        name = self.query_one("#catalog-name", Input).value.strip()
        image = self.query_one("#catalog-image", Input).value.strip()
        if not name or not image:
            self.notify(
                "Give the catalog name and the new index image, or press s to skip.", severity="warning"
            )
            return

        def prepare(ctx: Context) -> Any:
            return cat.prepare_set(ctx, name, image)

        def apply(ctx: Context, plan: Any) -> Any:
            data = cat.set_image(ctx, plan)
            data["state"] = cat.wait_ready(ctx, name, image, interval=self.wizard.watch_interval)
            return data

        self.prepare_then_apply(
            f"point catalogsource/{name} at the new index image",
            prepare,
            lambda plan: list(plan.changes),
            apply,
            self._done,
            confirm_title="Change the CatalogSource's image?",
        )

    def _done(self, data: dict[str, Any]) -> None:
        self.wizard.mark_step(
            self.STEP, "succeeded", f"catalogsource/{data.get('catalog')} uses {data.get('image')}"
        )
        self.refresh_state()

    def action_skip(self) -> None:
        if not self.check_not_running():
            return
        reason = "no operator catalog mirrored"
        if self.wizard.journal is not None:
            workflow.skip(self.wizard.journal, self.STEP, reason)
        self.wizard.mark_step(self.STEP, "skipped", reason)
        self.run.add_line("Skipped: the operator catalogs are left as they are.")
        self.refresh_state()
