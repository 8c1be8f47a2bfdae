from django.urls import path

from . import views

app_name = "security"

urlpatterns = [
    path("", views.security_rollup, name="rollup"),
    path("export.csv", views.security_rollup_csv, name="rollup_csv"),
    path("customers/<int:customer_id>/", views.customer_posture, name="customer"),
    path("customers/<int:customer_id>/exceptions/", views.customer_exceptions, name="exceptions"),
]
