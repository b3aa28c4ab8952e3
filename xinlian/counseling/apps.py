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
