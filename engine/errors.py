"""A small error hierarchy whose messages say what happened and what to do.

Every error has a one-line ``message`` (the cause, in plain words), a ``fix`` (what the user should do) and
an ``exit_code`` for the headless commands. Messages and fixes are redacted when they are built.
"""

from __future__ import annotations

from typing import Any

from engine.redact import redact

# Exit codes of the headless commands (stable: scripts depend on them).
EXIT_OK = 0
EXIT_FAILED = 1
"""The operation failed (cluster, registry, verification...)."""
EXIT_USAGE = 2
"""Bad command line, plan or input file."""
EXIT_REFUSED = 3
"""A change needed confirmation and none could be had (no terminal and no --yes), or a guard refused it."""
EXIT_NOT_READY = 4
"""A precondition is not met yet (e.g. preflight found failures, update not complete)."""
EXIT_CANCELLED = 130


class AirgapError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = EXIT_FAILED
    title = "Error"

    def __init__(self, message: str, *, fix: str = "", title: str | None = None) -> None:
        self.message = redact(message)
        self.fix = redact(fix)
        if title:
            self.title = title
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def describe(self) -> str:
        """Cause and fix on two lines, for terminals and modals."""
        return f"{self.message}\nFix: {self.fix}" if self.fix else self.message


class InputError(AirgapError):
    """A file or value the user gave is malformed or invalid."""

    exit_code = EXIT_USAGE
    title = "Invalid input"

    def __init__(
        self,
        message: str,
        *,
        fix: str = "",
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        title: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = ""
        if path:
            where = path
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        super().__init__(where + message, fix=fix, title=title)


class PlanError(InputError):
    title = "Invalid plan"

    def __init__(self, message: str, *, fix: str = "", **kw: Any) -> None:
        super().__init__(
            message,
            fix=fix
            or "Correct that setting in the plan file, then check it again: ocp-airgap plan check FILE.",
            **kw,
        )


class ClusterError(AirgapError):
    title = "Cluster error"


class ClusterUnreachable(ClusterError):
    title = "Cluster unreachable"


class Unauthorized(ClusterError):
    title = "Not logged in"


class Forbidden(ClusterError):
    title = "Permission denied"


class NotFound(ClusterError):
    title = "Not found"


class Conflict(ClusterError):
    title = "Conflict"


class RegistryError(AirgapError):
    title = "Registry error"


class RegistryAuthError(RegistryError):
    title = "Registry authentication failed"


class RegistryDenied(RegistryError):
    title = "Registry access denied"


class RegistryNotFound(RegistryError):
    title = "Not found in registry"


class TLSError(AirgapError):
    title = "TLS error"


class DigestMismatch(RegistryError):
    title = "Digest mismatch"


class SignatureError(AirgapError):
    title = "Signature verification failed"


class CredentialsError(AirgapError):
    title = "Credentials problem"


class KeyringUnavailable(CredentialsError):
    title = "No system keyring"


class PreconditionFailed(AirgapError):
    """A guard refused the operation (the cluster is failing, an update is already running...)."""

    exit_code = EXIT_REFUSED
    title = "Cannot proceed"


class ConfirmationRequired(AirgapError):
    exit_code = EXIT_REFUSED
    title = "Confirmation required"


class NotReady(AirgapError):
    exit_code = EXIT_NOT_READY
    title = "Not ready"


class ToolMissing(AirgapError):
    title = "Tool not found"


class Cancelled(AirgapError):
    exit_code = EXIT_CANCELLED
    title = "Cancelled"

    def __init__(self, message: str = "Cancelled by the user.", *, fix: str = "") -> None:
        super().__init__(message, fix=fix)
