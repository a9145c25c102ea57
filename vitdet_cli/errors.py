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


def excerpt(value: object, limit: int = 80) -> str:
    """A repr of ``value`` cut at ``limit`` characters, built without ever expanding more than
    that (a YAML alias bomb or a huge list costs nothing)."""
    parts: list[str] = []
    budget = [limit + 1]

    def put(text: str) -> bool:
        parts.append(text[: budget[0]])
        budget[0] -= len(text)
        return budget[0] > 0

    def walk(v: object) -> bool:
        if isinstance(v, (list, tuple, dict)):
            opener, closer = "{}" if isinstance(v, dict) else "()" if isinstance(v, tuple) else "[]"
            if not put(opener):
                return False
            items = v.items() if isinstance(v, dict) else v
            for i, item in enumerate(items):
                if i and not put(", "):
                    return False
                if isinstance(v, dict):
                    if not (walk(item[0]) and put(": ") and walk(item[1])):
                        return False
                elif not walk(item):
                    return False
            return put(closer)
        return put(repr(v)[: budget[0] + 1])

    walk(value)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reason(exc: BaseException, limit: int = 300) -> str:
    """``"Type: first line of the message"`` (the line number for syntax errors) — never an
    empty reason, never a screenful."""
    if isinstance(exc, SyntaxError):
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return f"{type(exc).__name__}: {exc.msg}{where}"[:limit]
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text}"[:limit] if text else type(exc).__name__
