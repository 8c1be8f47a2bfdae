from django.urls import include, path

from accounts import views
from customers import urls as customers_urls
from integrations.mail import body_urls

from . import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("healthz", pages.healthz, name="healthz"),
    path("account/", views.account, name="account"),
    path("admin/users/", views.user_list, name="users"),
    path("admin/users/<int:user_id>/", views.user_edit, name="user_edit"),
    path("admin/users/<int:user_id>/password/", views.user_password, name="user_password"),
    path("admin/audit/", include("audit.urls")),
    # The body endpoints belong to integrations (they call Graph) but keep their
    # /customers/ URLs and customers: names.
    path("customers/", include((customers_urls.urlpatterns + body_urls.urlpatterns, customers_urls.app_name))),
    path("security/", include("security.urls")),
    path("compliance/", include("compliance.urls")),
    path("admin/integrations/", include("integrations.urls")),
]
