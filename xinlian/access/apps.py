from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "xinlian.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # API tokens are revoked on password change and web logout (signal receivers).
        from . import tokens  # noqa: F401
