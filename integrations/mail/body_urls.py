"""Routes for the body endpoints, mounted under /customers/ in the customers
namespace by vectis/urls.py (the URLs people and templates know)."""

from django.urls import path

from . import body_views

urlpatterns = [
    path("<int:customer_id>/messages/<int:message_id>/body/", body_views.message_body, name="message_body"),
    path("<int:customer_id>/events/<int:event_id>/body/", body_views.event_body, name="event_body"),
]
