from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "xinlian.web"
    label = "web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from xinlian.notify import jobs

        from .sessions import clear_expired_sessions

        jobs.register("expired-sessions", clear_expired_sessions)
