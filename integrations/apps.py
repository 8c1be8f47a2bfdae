from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self):
        from .audit_labels import register  # models are loaded only now

        register()
