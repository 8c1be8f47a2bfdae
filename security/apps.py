from django.apps import AppConfig

from customers.hub_registry import hub_section_register


class SecurityConfig(AppConfig):
    name = "security"

    def ready(self):
        # Models are loaded only now.
        from .audit_labels import register
        from .selectors import posture_for_hub

        hub_section_register(posture_for_hub)
        register()
