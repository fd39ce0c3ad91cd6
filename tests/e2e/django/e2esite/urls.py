from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("cached/", views.cached, name="cached"),
    path("private/", views.private, name="private"),
    path("message/", views.message, name="message"),
    path("articles/<slug>/", views.article, name="article"),
    path("articles/<slug>/edit/", views.edit_article, name="edit_article"),
    path("pages/", views.page_list, name="pages"),
    path("pages/<slug:slug>/", views.page, name="page"),
    path("pages/<slug:slug>/edit/", views.page_edit, name="page_edit"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
