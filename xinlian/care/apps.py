from django.apps import AppConfig
from django.db.models import Q


class CareConfig(AppConfig):
    name = "xinlian.care"
    label = "care"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from xinlian.notify import jobs

        from .models import fire_due_escalations, raise_overdue_follow_ups

        jobs.register("follow-ups", raise_overdue_follow_ups)
        jobs.register("escalations", fire_due_escalations)

        from .rota import warn_of_gaps

        jobs.register("rota-gaps", warn_of_gaps)

        # "SMS if not acknowledged in N minutes": the worker asks before it sends.
        from xinlian.notify import hooks

        from .models import Alert, AlertStatus

        hooks.register_alert_is_open(
            lambda pk: Alert.objects.filter(pk=pk, status=AlertStatus.OPEN).exists())

        # The inbox shows each alert message's level, status and (where allowed) category.
        from .work import inbox_summaries

        hooks.register_inbox_summaries(inbox_summaries)

        # Two-step verification is required of an open crisis case's team (access/twofactor.py).
        from xinlian.access import twofactor

        from .models import Case, CaseStatus

        twofactor.register_case_team_check(
            lambda user: Case.objects.exclude(status=CaseStatus.CLOSED)
            .filter(Q(lead_id=user.pk) | Q(members=user.pk)).exists())
