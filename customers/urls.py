from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("import/", views.customer_import, name="import"),
    path("<int:customer_id>/", views.customer_hub, name="hub"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/delete/", views.customer_delete, name="delete"),
    path("<int:customer_id>/domains/<int:domain_id>/remove/", views.domain_remove, name="domain_remove"),
    path("<int:customer_id>/contacts/add/", views.contact_add, name="contact_add"),
    path("<int:customer_id>/contacts/<int:contact_id>/remove/", views.contact_remove, name="contact_remove"),
]
