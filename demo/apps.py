from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo (`./dev run`): a simulated tenant and data to match. Installed
    only when DEBUG is on; neither it nor graphsim/ is in the production image."""

    name = "demo"
