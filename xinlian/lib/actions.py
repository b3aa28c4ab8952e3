"""The outcomes of an action (a verb), shared by every app and both front-ends.

A verb takes the acting user and either returns its result or raises one of these. The page
and the API are adapters: they map the same exception to the same meaning — 404, 403, 409 or
400 — so a rule never lives in an adapter. Messages are already translated (or lazy) text
meant for the person acting; they never carry sensitive data."""

from __future__ import annotations

from typing import Any


class ActionError(Exception):
    """Base of every refusal a verb may raise. ``status`` is the HTTP meaning."""

    status = 400

    def __init__(self, message: Any = "", *, errors: dict[str, list[Any]] | None = None,
                 obj: Any = None) -> None:
        super().__init__(str(message) if message else self.__class__.__name__)
        self.message = message
        self.errors = errors or {}
        self.obj = obj  # what the refusal is about, when the adapter needs it (e.g. the open case)

    @property
    def text(self) -> str:
        """One line for a page's message: the message, or every field error joined."""
        if self.message:
            return str(self.message)
        return " ".join(str(e) for errs in self.errors.values() for e in errs)


class NotFound(ActionError):
    """Outside the actor's scope, or missing: the two are never told apart."""

    status = 404


class NotAllowed(ActionError):
    """In scope, but not this actor's to do."""

    status = 403


class Conflict(ActionError):
    """Refused in the record's current state (a second acknowledgement, a closed case, a second
    open case); a race that the database constraint stopped ends here too."""

    status = 409


class Invalid(ActionError):
    """The input breaks a rule of the action; ``errors`` names the fields."""

    status = 400
