"""The user model: a login with a role and the work email that role checks use."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member (technician)"
    VIEWER = "viewer", "Viewer (auditor)"


class VectisUserManager(UserManager):
    def create_user(self, username, email=None, password=None, **extra):
        extra.setdefault("work_email", (email or "").lower())
        return super().create_user(username, email, password, **extra)

    def create_superuser(self, username, email=None, password=None, **extra):
        extra.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra)


class User(AbstractUser):
    # Which communications a member or viewer may see is decided by this
    # address alone, so only an admin can set it and never on their own account.
    work_email = models.EmailField(unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty means the site default")

    objects = VectisUserManager()

    REQUIRED_FIELDS = ["work_email"]

    class Meta:
        # The table keeps the name it had when the model lived in the project package.
        db_table = "vectis_user"
        ordering = ["username"]

    @property
    def is_admin(self):
        return self.role == Role.ADMIN

    def save(self, *args, **kwargs):
        self.work_email = (self.work_email or "").strip().lower()
        if not self.email:
            self.email = self.work_email
        super().save(*args, **kwargs)
