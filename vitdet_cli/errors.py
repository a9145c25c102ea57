"""The one exception type users see: a message, a hint, a code and an exit status."""

from __future__ import annotations


class VitdetError(Exception):
    """An error the user can fix. The CLI prints it without a traceback.

    Args:
        message: what went wrong, naming the file or field concerned.
        hint: what to do about it.
        code: a short machine-readable identifier (used by ``--json``).
        exit_code: 2 for usage/config problems, 1 for runtime failures.
    """

    def __init__(self, message: str, hint: str = "", code: str = "error", exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.exit_code = exit_code

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


class ConfigError(VitdetError):
    """A bad config file, field or override (exit 2)."""

    def __init__(self, message: str, hint: str = "", code: str = "config_error"):
        super().__init__(message, hint=hint, code=code, exit_code=2)
