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

        # Two-step verification is required of an open crisis case's team (access/twofactor.py);
        # the same question as SQL over the user row ``t``, asked with the user of every request.
        from django.db import connection

        from xinlian.access import twofactor

        from .models import Case, CaseStatus

        q = connection.ops.quote_name
        members = Case._meta.get_field("members")
        team_sql = (f"EXISTS (SELECT 1 FROM {q(Case._meta.db_table)} c WHERE c.{q('status')} <> %s AND "
                    f"(c.{q(Case._meta.get_field('lead').column)} = t.{q('id')} OR EXISTS (SELECT 1 FROM "
                    f"{q(members.m2m_db_table())} m WHERE m.{q(members.m2m_column_name())} = c.{q('id')} AND "
                    f"m.{q(members.m2m_reverse_name())} = t.{q('id')})))")
        twofactor.register_case_team_check(
            lambda user: Case.objects.exclude(status=CaseStatus.CLOSED)
            .filter(Q(lead_id=user.pk) | Q(members=user.pk)).exists(),
            sql=(team_sql, [CaseStatus.CLOSED.value]))
