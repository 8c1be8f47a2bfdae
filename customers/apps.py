from django.apps import AppConfig

from .hub_registry import HubSection, hub_section_register


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self):
        # Models are loaded only now.
        from .audit_labels import register
        from .hub import communications_context

        hub_section_register(HubSection(anchor="communications", title="Communications",
                                        template="customers/_communications.html", context=communications_context))
        register()
