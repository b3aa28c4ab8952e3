from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_instruments(sender, **kwargs) -> None:  # noqa: ANN001
    from .models import Instrument

    Instrument.sync_builtin()


class ScreeningConfig(AppConfig):
    name = "xinlian.screening"
    label = "screening"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Screening"

    def ready(self) -> None:
        # Shipped instrument files become rows after every migrate (new versions are added,
        # nothing is edited in place), so campaigns always point at an exact file.
        post_migrate.connect(_sync_instruments, sender=self)
        from django.db.models.signals import post_delete, post_save

        from xinlian.notify import jobs

        from .models import Campaign, CentreSettings, RuleSet, act_on_submissions, clear_local_cache

        # Registered after care's jobs, so it runs first in each pass: the alerts it raises are
        # sent in the same pass.
        jobs.register("screening-actions", act_on_submissions)

        for model in (RuleSet, CentreSettings, Campaign):
            post_save.connect(clear_local_cache, sender=model, dispatch_uid=f"clear-{model.__name__}")
            post_delete.connect(clear_local_cache, sender=model, dispatch_uid=f"clear-del-{model.__name__}")
