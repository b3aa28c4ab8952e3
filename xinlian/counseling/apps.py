from django.apps import AppConfig


class CounselingConfig(AppConfig):
    name = "xinlian.counseling"
    label = "counseling"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Counselling"

    def ready(self) -> None:
        # The worker (in notify) runs these without importing this app.
        from xinlian.notify import jobs

        from .rules import extend_slots, send_reminders

        jobs.register("counseling-reminders", send_reminders)
        jobs.register("counseling-slots", extend_slots)

        # A crisis case does not close while its student came back from a leave of absence
        # without a return-to-school assessment; care asks, counselling knows.
        from xinlian.care.models import RETURN_CHECKS

        from .actions_referrals import case_needs_return_assessment

        if case_needs_return_assessment not in RETURN_CHECKS:
            RETURN_CHECKS.append(case_needs_return_assessment)
