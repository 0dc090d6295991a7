"""Shared widgets of the wizard."""

from tui.widgets.checks import CheckTable
from tui.widgets.commands import CommandPane
from tui.widgets.modals import ConfirmModal, ErrorModal, HelpModal, LogModal
from tui.widgets.model import StepRun
from tui.widgets.progress import ProgressPanel
from tui.widgets.step_list import StepList
from tui.widgets.step_log import StepLog

__all__ = [
    "CheckTable",
    "CommandPane",
    "ConfirmModal",
    "ErrorModal",
    "HelpModal",
    "LogModal",
    "ProgressPanel",
    "StepList",
    "StepLog",
    "StepRun",
]
