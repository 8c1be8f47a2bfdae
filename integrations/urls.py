from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.integrations_index, name="index"),
    path("microsoft-365/", views.m365_configure, name="m365_configure"),
]
