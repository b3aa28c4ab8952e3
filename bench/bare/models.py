from django.db import models


class Submission(models.Model):
    answers = models.JSONField()
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=20)
    critical = models.BooleanField()
    submitted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"PHQ-9 {self.total} ({self.band})"
