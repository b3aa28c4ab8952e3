from django.apps import AppConfig


class DutiesConfig(AppConfig):
    name = "xinlian.duties"
    label = "duties"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Duties"

    def ready(self) -> None:
        from xinlian.notify import jobs

        from .jobs import remind_missing, remind_reporters

        # Reminders write inbox messages (and e-mails the deliveries job sends in the same pass).
        jobs.register("report-reminders", remind_reporters)
        jobs.register("report-missing", remind_missing)
