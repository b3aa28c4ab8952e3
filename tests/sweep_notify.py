"""Sweep rows for the inbox and the centre's failed deliveries (see tests/test_sweep.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import LOGIN, only, row

# Everybody signed in has an inbox; a wrong method is refused before anything else.
POST_ONLY = row(405, 405)

EXPECT: dict[str, dict[str, Any]] = {
    "inbox": row(200, LOGIN),
    "inbox-badge": row(200, LOGIN),
    "inbox-read": POST_ONLY,
    "inbox-read-all": POST_ONLY,
    # The centre (holders of Cap.MANAGE_NETWORK) sees failed deliveries; everyone else 403.
    "deliveries-failed": only(("director",), 200, 403, LOGIN),
    "delivery-retry": POST_ONLY,
}
KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "inbox-read": lambda t: {"pk": t.notify_inbox_message.pk},
    "delivery-retry": lambda t: {"pk": t.notify_failed_delivery.pk},
}


def _none(t: Any) -> dict[str, Any]:
    return {}


# For tests/test_access_trio.py: methods each URL must refuse with 405 (sent as the director).
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "inbox": (_none, ["post", "put", "delete"]),
    "inbox-badge": (_none, ["post", "put", "delete"]),
    "inbox-read": (KWARGS["inbox-read"], ["get", "put", "delete"]),
    "inbox-read-all": (_none, ["get", "put", "delete"]),
    "deliveries-failed": (_none, ["post", "put", "delete"]),
    "delivery-retry": (KWARGS["delivery-retry"], ["get", "put", "delete"]),
}

MESSAGE = "A %(level_label)s alert for a student in %(place)s needs your acknowledgement."


def setup(cls: Any) -> None:
    """An unread message in the director's inbox and a failed robot delivery for class A1."""
    from xinlian.notify.models import Channel, Delivery, DeliveryStatus, Robot

    params = {"level_label": "red", "place": cls.class_a1.breadcrumb()}
    robot = Robot.objects.create(unit=cls.class_a1, name="2023级1班群", kind="wecom",
                                 url="http://127.0.0.1:9/cgi-bin/webhook/send?key=sweep")
    cls.notify_inbox_message = Delivery.objects.create(
        channel=Channel.INBOX, recipient=cls.director, message=MESSAGE, params=params,
        link="/care/alerts/1/", status=DeliveryStatus.SENT)
    cls.notify_failed_delivery = Delivery.objects.create(
        channel=Channel.WEBHOOK, robot=robot, message=MESSAGE, params=params,
        link="/care/alerts/1/", status=DeliveryStatus.FAILED, attempts=Delivery.MAX_ATTEMPTS,
        last_error="HTTP 500")
