from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "xinlian.network"
    label = "network"
    verbose_name = "心联 · network"
    default_auto_field = "django.db.models.BigAutoField"
