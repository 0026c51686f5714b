"""Import jobs: one uploaded workbook, checked (a dry run) or applied by a Celery worker, with its
progress and its report."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


UNFINISHED_JOB_STATES = [JobState.QUEUED, JobState.RUNNING]

# A report keeps at most this many errors and as many warnings (a million-row file can have an
# error on every row); `errors_total` and `warnings_total` count them all.
REPORT_PROBLEMS_KEPT = 1000


class ImportJob(models.Model):
    """One upload of a workbook (or a CSV of one sheet). The file's bytes are stored here, so a
    worker on any host reads them; the worker records the progress while it runs and the
    report (counts, problems, people invited) when it ends. `failure` says why a job failed
    without a report (its worker was lost, the database was unreachable, an unexpected error):
    nothing of such a job was written."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255)
    content = models.BinaryField(editable=False)
    size = models.PositiveBigIntegerField(default=0)
    dry_run = models.BooleanField(default=True)
    # Where the invitations to people the file creates point ("https://crm.example.com"): the
    # site the file was uploaded to.
    site_url = models.CharField(max_length=200, blank=True)
    # The dry run whose file this job applies ("Apply this file"), if any.
    checked_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="applied_by"
    )
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # {kind: n}, as the importer counts them.
    created = models.JSONField(default=dict, blank=True)
    updated = models.JSONField(default=dict, blank=True)
    # [{"sheet", "row", "column", "message"}], at most REPORT_PROBLEMS_KEPT of each.
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    errors_total = models.PositiveIntegerField(default=0)
    warnings_total = models.PositiveIntegerField(default=0)
    total_rows = models.PositiveIntegerField(default=0)
    people_invited = models.JSONField(default=list, blank=True)
    applied = models.BooleanField(default=False)
    scan = models.ForeignKey(
        "alignment.Scan", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    # The Celery task that last started it, and how many times a worker has (a redelivery
    # after a lost worker, a retry after a lost database connection).
    task_id = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "My imports, newest first" on the Import page.
            models.Index(fields=["created_by", "-created_at", "-id"], name="importjob_mine"),
            # The sweep looks for unfinished jobs.
            models.Index(
                fields=["state"],
                condition=Q(state__in=["queued", "running"]),
                name="importjob_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=JobState.values), name="importjob_state_valid"
            ),
        ]

    def __str__(self) -> str:
        kind = "Check" if self.dry_run else "Import"
        return f"{kind} {self.pk} of {self.filename} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(100, self.progress_done * 100 // self.progress_total)

    @property
    def is_clean(self) -> bool:
        """Done without errors: a dry run that may be applied as it is."""
        return self.state == JobState.DONE and self.errors_total == 0
