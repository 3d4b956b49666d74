"""Domain errors: raised with a precise message, mapped to problem+json in one HTTP handler."""

from __future__ import annotations

from collections.abc import Iterable


class VetaError(Exception):
    """Base of every error a user can cause; `status` is its HTTP meaning."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict:
        return {}


class InvalidParameter(VetaError):
    """A request parameter (or body field) has a value that is not allowed."""

    title = "Invalid parameter"
    slug = "invalid-parameter"

    def __init__(self, parameter: str, reason: str, allowed: str | Iterable[str] | None = None):
        self.parameter = parameter
        self.reason = reason
        self.allowed = allowed if isinstance(allowed, str) or allowed is None else list(allowed)
        detail = f"{parameter}: {reason}"
        if self.allowed:
            shown = self.allowed if isinstance(self.allowed, str) else ", ".join(self.allowed)
            detail += f" (allowed: {shown})"
        super().__init__(detail)

    def __reduce__(self):
        # Raised in a worker process (api.body_parsing) and pickled back whole.
        return (type(self), (self.parameter, self.reason, self.allowed))

    def extensions(self) -> dict:
        entry: dict[str, object] = {"name": self.parameter, "reason": self.reason}
        if self.allowed:
            entry["allowed"] = self.allowed
        return {"invalid_params": [entry]}


class NotFound(VetaError):
    """The addressed resource does not exist."""

    status = 404
    title = "Not found"
    slug = "not-found"


class Unauthenticated(VetaError):
    """A credential was sent and is not valid (unknown, expired, revoked, badly signed)."""

    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


# Said of a key that is unknown, expired or revoked: never which, so that the answer tells a
# guesser nothing.
KEY_NOT_VALID = "the API key is not valid: unknown, expired or revoked"


class Forbidden(VetaError):
    """The caller's role may not do this. Never says whether the record addressed exists."""

    status = 403
    title = "Forbidden"
    slug = "forbidden"


class InvalidFields(VetaError):
    """Several members of a request body are wrong at once: each is named with its reason."""

    title = "Invalid parameter"
    slug = "invalid-parameter"

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in problems))

    def __reduce__(self):
        return (type(self), (self.problems,))

    def extensions(self) -> dict:
        return {"invalid_params": [{"name": n, "reason": r} for n, r in self.problems]}


class PreconditionFailed(VetaError):
    """A write named a version of the record (If-Match) that is no longer the current one."""

    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class PreconditionRequired(VetaError):
    """A write named no version of the record it changes (If-Match missing)."""

    status = 428
    title = "Precondition required"
    slug = "precondition-required"


class Conflict(VetaError):
    """A write would make a second record with the same key."""

    status = 409
    title = "Conflict"
    slug = "conflict"
