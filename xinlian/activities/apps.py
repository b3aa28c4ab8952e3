from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "xinlian.activities"
    label = "activities"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Activities"
