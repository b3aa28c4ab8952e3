from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "xinlian.planning"
    label = "planning"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Planning"
