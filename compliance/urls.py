from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("", views.compliance_index, name="index"),
    path("download/", views.pack_download, name="download"),
    path("dates/", views.snapshot_dates_options, name="dates"),
]
