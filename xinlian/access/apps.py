from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "xinlian.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from xinlian.lib import hotsql

        # API tokens are revoked on password change and web logout (signal receivers).
        from . import tokens  # noqa: F401
        from .twofactor import state_columns

        # What the second step asks of a session, loaded with the user of every request.
        hotsql.register_user_columns(state_columns)
