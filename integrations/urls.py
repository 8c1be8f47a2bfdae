from django.urls import path

from . import views
from .posture import tenant_views

app_name = "integrations"

urlpatterns = [
    path("", views.integrations_index, name="index"),
    path("microsoft-365/", views.m365_configure, name="m365_configure"),
    path("microsoft-365/sync/", views.sync_start, name="sync_start"),
    path("microsoft-365/sync/progress/", views.sync_progress, name="sync_progress"),
    path("microsoft-365/resync/", views.mailbox_resync, name="mailbox_resync"),
    path("microsoft-365/posture/", views.posture_sync_start, name="posture_sync"),
    path("customer-tenants/callback/", tenant_views.customer_tenant_callback, name="customer_tenant_callback"),
    path("customer-tenants/<int:customer_id>/", tenant_views.customer_tenant, name="customer_tenant"),
]
