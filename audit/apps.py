from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self):
        from .readable import User, target_describer_register, users_describe

        target_describer_register(User._meta.label_lower, users_describe)
