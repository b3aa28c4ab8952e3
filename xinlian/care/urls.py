from django.urls import path

from . import views

urlpatterns = [
    path("alerts/<int:pk>/", views.alert_detail, name="alert-detail"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
]
