"""Account pages (Django's auth views with our templates), the home page, global search and the
pickers' suggestions (people, departments, user groups)."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from core.middleware import public, signed_in
from projects.views import department_suggestions, user_group_suggestions

from . import accounts, history, views

_reset = {"template_name": "registration/simple_form.html"}

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("people/", views.people, name="people"),
    path("departments/", department_suggestions, name="departments"),
    path("user-groups/", user_group_suggestions, name="user_groups"),
    path("activity/", history.activity, name="activity"),
    path("history/<str:kind>/<int:pk>/", history.object_history, name="object_history"),
    path("history/<str:kind>/<int:pk>/restore/", history.restore, name="history_restore"),
    path("accounts/login/", public(accounts.LoginView.as_view()), name="login"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("accounts/tokens/", accounts.api_tokens, name="api_tokens"),
    path(
        "accounts/password/change/",
        signed_in(
            auth_views.PasswordChangeView.as_view(
                template_name="registration/simple_form.html",
                success_url=reverse_lazy("password_change_done"),
                extra_context={"heading": "Change your password", "button": "Change password"},
            )
        ),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        signed_in(
            auth_views.PasswordChangeDoneView.as_view(
                template_name="registration/message.html",
                extra_context={"heading": "Password changed", "body": "Your new password is set."},
            )
        ),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        public(
            accounts.PasswordResetView.as_view(
                **_reset,
                email_template_name="registration/password_reset_email.html",
                subject_template_name="registration/password_reset_subject.txt",
                success_url=reverse_lazy("password_reset_done"),
                extra_context={
                    "heading": "Reset your password",
                    "intro": "Enter your email address; we will send you a link to choose a "
                    "new one.",
                    "button": "Send reset link",
                },
            )
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        public(
            auth_views.PasswordResetDoneView.as_view(
                template_name="registration/message.html",
                extra_context={
                    "heading": "Check your email",
                    "body": "If an account uses that address, a reset link is on its way.",
                },
            )
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        public(
            auth_views.PasswordResetConfirmView.as_view(
                **_reset,
                success_url=reverse_lazy("password_reset_complete"),
                extra_context={"heading": "Choose a new password", "button": "Set password"},
            )
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        public(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="registration/message.html",
                extra_context={
                    "heading": "Password set",
                    "body": "Your new password is set; you can sign in with it now.",
                },
            )
        ),
        name="password_reset_complete",
    ),
    # The link a spreadsheet import mails to the people it created (onboarding.importer).
    path(
        "accounts/invitation/<uidb64>/<token>/",
        public(
            accounts.InvitationView.as_view(
                **_reset,
                success_url=reverse_lazy("invitation_done"),
                extra_context={
                    "heading": "Choose your password",
                    "intro": "You were added to CRM Strategy Alignment. Choose a password to "
                    "start.",
                    "button": "Set password and start",
                },
            )
        ),
        name="invitation",
    ),
    path(
        "accounts/invitation/done/",
        public(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="registration/message.html",
                extra_context={
                    "heading": "Your account is ready",
                    "body": "Your password is set; you can sign in with it now.",
                },
            )
        ),
        name="invitation_done",
    ),
]
