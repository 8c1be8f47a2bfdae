from django.apps import AppConfig

from customers.hub_registry import HubSection, hub_section_register


class SecurityConfig(AppConfig):
    name = "security"

    def ready(self):
        # Models are loaded only now.
        from .audit_labels import register
        from .selectors import posture_for_hub

        hub_section_register(HubSection(anchor="security-posture", title="Security posture",
                                        template="security/_hub_posture.html",
                                        context=lambda page: posture_for_hub(page.customer)))
        register()
