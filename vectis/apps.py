from django.apps import AppConfig


class VectisConfig(AppConfig):
    name = "vectis"
    verbose_name = "Vectis"
