"""Domain errors: raised with a precise message, mapped to problem+json in one HTTP handler."""

from __future__ import annotations

from collections.abc import Iterable


class VetaError(Exception):
    """Base of every error a user can cause: its HTTP `status`, the problem's `title` (in the
    catalogue, geo/core/messages.py) and `slug` (its type), given by each kind of error as
    class keywords: `class NotFound(VetaError, status=404, title=..., slug=...)`."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init_subclass__(
        cls, status: int | None = None, title: str | None = None, slug: str | None = None
    ) -> None:
        super().__init_subclass__()
        cls.status = status or cls.status
        cls.title = title or cls.title
        cls.slug = slug or cls.slug

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict:
        return {}


class InvalidParameter(VetaError, title="Invalid parameter", slug="invalid-parameter"):
    """A request parameter (or body field) has a value that is not allowed."""

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


class NotFound(VetaError, status=404, title="Not found", slug="not-found"):
    """The addressed resource does not exist."""


class Unauthenticated(VetaError, status=401, title="Unauthorized", slug="unauthorized"):
    """A credential was sent and is not valid (unknown, expired, revoked, badly signed)."""


# Said of a key that is unknown, expired or revoked: never which, so that the answer tells a
# guesser nothing.
KEY_NOT_VALID = "the API key is not valid: unknown, expired or revoked"


class Forbidden(VetaError, status=403, title="Forbidden", slug="forbidden"):
    """The caller's role may not do this. Never says whether the record addressed exists."""


class InvalidFields(VetaError, title=InvalidParameter.title, slug=InvalidParameter.slug):
    """Several members of a request body are wrong at once: each is named with its reason."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in problems))

    def __reduce__(self):
        return (type(self), (self.problems,))

    def extensions(self) -> dict:
        return {"invalid_params": [{"name": n, "reason": r} for n, r in self.problems]}


class PreconditionFailed(
    VetaError, status=412, title="Precondition failed", slug="precondition-failed"
):
    """A write named a version of the record (If-Match) that is no longer the current one."""


class PreconditionRequired(
    VetaError, status=428, title="Precondition required", slug="precondition-required"
):
    """A write named no version of the record it changes (If-Match missing)."""


class Conflict(VetaError, status=409, title="Conflict", slug="conflict"):
    """A write would make a second record with the same key."""
