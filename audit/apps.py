from django.apps import AppConfig

from accounts.audit_hook import audit_writer_install


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self):
        from .log import audit_log  # models are loaded only now

        audit_writer_install(audit_log)
