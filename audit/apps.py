from django.apps import AppConfig

from accounts.audit_hook import audit_writer_install


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self):
        # Models are loaded only now.
        from .log import audit_log
        from .readable import User, target_describer_register, users_describe

        audit_writer_install(audit_log)
        target_describer_register(User._meta.label_lower, users_describe)
