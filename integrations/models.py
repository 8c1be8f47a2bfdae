"""Where Django finds this app's models. Each model lives with the package
that owns it; this module only hands them on (code imports them from there)."""

from .mail.models import SyncRun  # noqa: F401
from .setup.models import M365Connection, MailboxState, TaskClaim  # noqa: F401
