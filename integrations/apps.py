from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self):
        from security.collection import latest_finished_run_source_register

        from .audit_labels import register
        from .m365.posture_sync import latest_finished_posture_run

        register()
        latest_finished_run_source_register(latest_finished_posture_run)
