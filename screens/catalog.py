"""Operator catalog: the installed operators, compatible with the target or blocking it (and what to update
them to); a filtered catalog (the chosen packages and channels, the installed ones by default) sized with a dry
run, then mirrored and applied (OperatorHub, CatalogSource by digest, IDMS/ITMS), and the blocking operators moved
to their compatible channel; or the explicit, journaled acceptance that they block. The older single-CatalogSource
re-point by digest stays (r). Skip it when no operator is installed."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine import catalog, workflow
from engine.context import Context
from engine.util import BY_DIGEST
from screens.base import PlanValidator, StepScreen
from tui.i18n import N_, _


class CatalogScreen(StepScreen):
    STEP = "catalog"
    # at 80x24 the operator list and the next action come first: the CatalogSources shrink to one summary line
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    DEFAULT_CSS = """
    CatalogScreen #operators { height: auto; }
    CatalogScreen.-short #catalogs { max-height: 1; }
    CatalogScreen #catalogs { height: auto; max-height: 5; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("o", "operators", "Operators"),
        Binding("d", "size", "Size"),
        Binding("m", "mirror", "Mirror+apply"),
        Binding("u", "update_operators", "Update ops"),
        Binding("a", "accept", "Accept block"),
        Binding("r", "primary", "Set image"),
        Binding("s", "skip", "Skip"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="operators")
        yield self.field("Packages", "catalog-packages", "", placeholder="default: the installed operators")
        yield self.field(
            "Channels",
            "catalog-channels",
            "",
            placeholder="PACKAGE=CHANNEL, ... (default: subscribed "
            "+ the one to update a blocking operator through)",
        )
        yield self.field("Catalog", "catalog-name", "", placeholder="e.g. redhat-operators")
        yield self.field(
            "Index image",
            "catalog-image",
            "",
            PlanValidator(
                lambda v: bool(BY_DIGEST.match(v)), N_("expected <registry>/<repo>@sha256:<64 hex>")
            ),
            placeholder="mirrored index image by digest",
        )
        yield Static("", classes="field-error -empty", id="field-error")
        yield Static("", id="catalogs")

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def load(self) -> None:
        cat = catalog
        if self.mode == "to-media":  # this host does not reach the cluster: the admin names what to keep
            self.query_one("#operators", Static).update(
                escape(
                    _(
                        "This host does not reach the cluster: give the packages as installed there "
                        "(NAME>=VERSION, from 'ocp-airgap catalog operators' on the disconnected side) and "
                        "the channels, then press m."
                    )
                )
            )
        elif self.wizard.live and not self.run.running:
            self.start(_("Listing the CatalogSources"), cat.list_catalogs, self._listed)
        elif not self.wizard.live:
            self.query_one("#operators", Static).update(_("Press o to read the installed operators."))

    # ----- operators end to end (engine.catalogs) -----
    def _options(self, **kw: Any) -> Any:
        """The packages and channels typed in; the media folder from the plan's mirroring.mode (to-media writes
        <media_path>/catalog, from-media uploads from it)."""
        from engine.catalogs.mirror import CatalogOptions

        pkgs = [p.strip() for p in self.query_one("#catalog-packages", Input).value.split(",") if p.strip()]
        channels: dict[str, list[str]] = {}
        for item in self.query_one("#catalog-channels", Input).value.split(","):
            pkg, sep, ch = item.strip().partition("=")
            if sep and pkg and ch:
                channels.setdefault(pkg.strip(), []).append(ch.strip())
        return CatalogOptions(packages=pkgs, channels=channels, **kw).follow_plan(self.wizard.plan)

    @property
    def mode(self) -> str:
        return self.wizard.plan.mirroring.mode

    def action_operators(self) -> None:
        if not self.check_not_running():
            return
        from engine.catalogs.mirror import read_operators

        self.start(
            _("Reading the installed operators"), lambda ctx: read_operators(ctx)[2], self._operators_listed
        )

    def _operators_listed(self, ops: list[Any]) -> None:
        target = self.wizard.plan.release.version
        self._ops = ops
        lines = []
        for o in ops:
            state = f"BLOCKS {target}" if o.blocks(target) else "compatible"
            extra = (
                f" -> update to {o.update_to['version']} ({o.update_to['channel']})" if o.update_to else ""
            )
            lines.append(f"{o.namespace}/{o.subscription or o.csv} {o.version} [{o.channel}] {state}{extra}")
        self.query_one("#operators", Static).update(
            escape("\n".join(lines) or _("No operator is installed."))
        )
        self.update_next()

    def action_size(self) -> None:
        if not self.check_not_running():  # the operator catalog does not need the release mirrored
            return
        from engine.catalogs.mirror import mirror_catalog

        opts = self._options(dry_run=True)
        self.start(
            "Sizing the filtered catalog (dry run)", lambda ctx: mirror_catalog(ctx, opts), self._sized
        )

    def _sized(self, result: Any) -> None:
        from engine.util import format_bytes

        sizes = ", ".join(f"{p} {format_bytes(n)}" for p, n in result.sizes.items())
        self.run.add_line(
            f"Filtered catalog: {len(result.packages)} package(s), {format_bytes(result.bytes_total)}: "
            f"{sizes}"
        )
        self.sync()

    def action_mirror(self) -> None:
        if not self.check_not_running():  # the operator catalog does not need the release mirrored
            return
        from engine.catalogs import apply as ap
        from engine.catalogs.mirror import load_last_mirror, mirror_catalog

        opts = self._options()
        if opts.mode == "to-media":
            self.start(
                _("Writing the filtered catalog onto the media"),
                lambda ctx: mirror_catalog(ctx, opts),
                self._written,
            )
            return

        def prepare(ctx: Context) -> Any:
            mirror_catalog(ctx, opts)  # direct, or uploaded from the media; recorded on this host
            return ap.prepare_apply(ctx, load_last_mirror())

        def apply(ctx: Context, plan: Any) -> Any:
            data = ap.apply(ctx, plan) if plan.steps else {"image": plan.image, "catalogs": plan.catalogs}
            data["states"] = ap.wait_ready(
                ctx, plan.catalogs, plan.image, interval=self.wizard.watch_interval
            )
            return data

        self.prepare_then_apply(
            _("upload the filtered catalog from the media and point the cluster at it")
            if opts.mode == "from-media"
            else _("mirror the filtered catalog and point the cluster at it"),
            prepare,
            lambda plan: list(plan.changes),
            apply,
            self._applied,
            confirm_title=_("Point the cluster at the mirrored catalog?"),
        )

    def _written(self, result: Any) -> None:
        folder = result.target.removeprefix("file://")
        self.run.add_line(
            _(
                "Filtered catalog written to {folder}: on the disconnected side, the catalog step uploads it"
            ).format(folder=folder)
        )
        self.wizard.mark_step(self.STEP, "succeeded", f"filtered catalog written to {folder}")
        self.refresh_state()

    def _applied(self, data: dict[str, Any]) -> None:
        self.run.add_line(f"{', '.join(data.get('catalogs') or [])} serve {data.get('image')}")
        self.wizard.mark_step(self.STEP, "succeeded", f"mirrored catalog {data.get('image')} applied")
        self.refresh_state()
        self.action_operators()  # what to update to, from the catalog just mirrored (or uploaded)

    def action_update_operators(self) -> None:
        if not self.check_not_running():
            return
        ops = [o for o in getattr(self, "_ops", []) if o.update_to and o.subscription]
        if not ops:
            self.notify(
                "No blocking operator with a compatible version: read the operators first (o).",
                severity="warning",
            )
            return
        from engine.catalogs import apply as ap

        def prepare(ctx: Context) -> Any:
            return [
                (o, ap.prepare_channel(ctx, o.namespace, o.subscription, o.update_to["channel"])[1])
                for o in ops
            ]

        def apply(ctx: Context, prepared: Any) -> Any:
            done = []
            for o, change in prepared:
                if change is not None:
                    ap.set_channel(ctx, o.namespace, o.subscription, o.update_to["channel"], change)
                done.append(
                    ap.wait_installed(
                        ctx,
                        o.namespace,
                        o.subscription,
                        until_csv=o.update_to.get("bundle", ""),
                        interval=self.wizard.watch_interval,
                    )
                )
            return done

        def updated(done: list[str]) -> None:
            self.run.add_line(f"installed: {', '.join(done)}")
            self.action_operators()

        self.prepare_then_apply(
            "move the blocking operators to their compatible channel",
            prepare,
            lambda prepared: [c for _o, c in prepared if c is not None],
            apply,
            updated,
            confirm_title="Change the operators' channels?",
        )

    def action_accept(self) -> None:
        if not self.check_not_running():
            return
        target = self.wizard.plan.release.version
        blocking = [o for o in getattr(self, "_ops", []) if o.blocks(target)]
        if not blocking:
            self.notify(
                "No installed operator blocks the target (read them first with o).", severity="warning"
            )
            return
        from engine.catalogs import gate
        from engine.changes import Change

        change = Change(
            title=f"Accept that {', '.join(o.csv for o in blocking)} block {target} (journaled decision)",
            resource="journal/decision/accept-blocking-operators",
            before=None,
            after={"accepted": [o.csv for o in blocking]},
        )

        def go() -> None:
            self.start(
                "Recording the decision",
                lambda ctx: gate.accept(ctx, [o.csv for o in blocking], "accepted in the wizard"),
                lambda _r: self.run.add_line("Accepted (journaled): the update step will start anyway."),
            )

        self.confirm_changes(
            "Start the update although these operators block it?",
            [change],
            go,
            question="OLM still reports Upgradeable=False for them. Accept?",
        )

    def _listed(self, catalogs: list[Any]) -> None:
        # the first line sums them up (all that shows at 80x24); one line each below
        head = _("CatalogSources: {list}").format(
            list=", ".join(f"{c.name} {c.state or '?'}" for c in catalogs)
        )
        lines = (
            [head, *(f"{c.name}: {c.image}" for c in catalogs[:4])] if catalogs else [_("No CatalogSource.")]
        )
        self.query_one("#catalogs", Static).update(escape("\n".join(lines)))

    @on(Input.Changed, "#catalog-image")
    def _changed(self, event: Input.Changed) -> None:
        error = self.query_one("#field-error", Static)
        if event.validation_result is not None and not event.validation_result.is_valid:
            error.update(escape("; ".join(event.validation_result.failure_descriptions)))
            error.remove_class("-empty")
        else:
            error.update("")
            error.add_class("-empty")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_focus(None)

    def update_next(self) -> None:
        ops = getattr(self, "_ops", None)
        target = self.wizard.plan.release.version
        if (
            ops
            and not self.run.running
            and self.mode != "to-media"
            and any(o.blocks(target) for o in ops)
            and self.wizard.step_states().get(self.STEP) != "blocked"
        ):
            self.set_next(self.primary_hint())  # done or not, a blocking operator is still to be updated
        else:
            super().update_next()

    def primary_hint(self) -> str:
        # one short line: at 80x24 the next action must stay visible (every key is in the key bar and '?')
        ops = getattr(self, "_ops", None)
        if self.mode == "to-media":
            return _("packages and channels, then m writes the filtered catalog onto the media")
        if ops is None:
            return _("s skips this optional step; o lists the installed operators")
        target = self.wizard.plan.release.version
        if not any(o.blocks(target) for o in ops):
            return _("no operator blocks the target: s skips this step")
        if self.wizard.recorded_status(self.STEP) != "succeeded":
            if self.mode == "from-media":
                return _("m uploads the catalog from the media and applies it, then u updates the operators")
            return _("m mirrors and applies the catalog, then u updates the blocking operators")
        return _("u moves the blocking operators to their compatible channel")

    def action_primary(self) -> None:
        cat = catalog
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
