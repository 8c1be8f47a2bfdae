from django.apps import AppConfig

from customers.hub_registry import hub_section_register


class SecurityConfig(AppConfig):
    name = "security"

    def ready(self):
        from .selectors import posture_for_hub  # models are loaded only now

        hub_section_register(posture_for_hub)
