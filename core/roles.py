"""The four roles. Each is a Django group created by a data migration; superusers are admins."""

from django.db import models


class Role(models.TextChoices):
    EXECUTIVE = "executive", "Executive"
    PROJECT_MANAGER = "project_manager", "Project manager"
    SPONSOR = "sponsor", "Sponsor"
    VIEWER = "viewer", "Viewer"


ALL_ROLES = [role.value for role in Role]
