"""Session middleware with a sliding idle timeout that does not write on every request."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

# The key in the session data that remembers when the session was last written.
RENEWED_KEY = "_renewed"


class IdleSessionMiddleware(SessionMiddleware):
    """Keeps the idle timeout (SESSION_COOKIE_AGE) sliding with the user's activity, like
    SESSION_SAVE_EVERY_REQUEST, but re-saves the session at most once per
    SESSION_RENEW_SECONDS: a student answering a questionnaire sends a request every few
    seconds, and each save was an UPDATE of the whole session row. The session then expires
    between SESSION_COOKIE_AGE − SESSION_RENEW_SECONDS and SESSION_COOKIE_AGE after the last
    request. Requests that never looked at the session (nobody asked who the user is) do not
    count as activity, nor do the views that drop the session (notify's background polls)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.is_empty():
            now = int(time.time())
            if now - int(session.get(RENEWED_KEY, 0)) >= settings.SESSION_RENEW_SECONDS:
                session[RENEWED_KEY] = now  # modified: the parent saves it and renews the expiry
        return super().process_response(request, response)
