"""Logging in: by email (or username, for the demo and admin users), with failures rate-limited."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache


class EmailOrUsernameBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user_model = get_user_model()
        user = (
            user_model.objects.filter(email__iexact=username.strip()).order_by("id").first()
            or user_model.objects.filter(username=username.strip()).first()
        )
        if user is None:
            user_model().set_password(password)  # same time spent as for a real user
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def client_ip(request) -> str:
    if settings.SECURE_PROXY_SSL_HEADER:  # behind our proxy: the first hop it recorded
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing to even check a password after too many failures.

    Failures are counted per account and per IP address in Redis (shared by every web worker) for
    LOGIN_LOCKOUT_SECONDS; an IP gets four times the account's allowance (offices share one).
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your email and password didn't match. Please try again.",
    }
    username = forms.CharField(
        label="Email", widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )

    def _counters(self) -> list[tuple[str, int]]:
        username = (self.data.get("username") or "").strip().lower()
        ip = client_ip(self.request) if self.request else ""
        limit = settings.LOGIN_MAX_FAILURES
        return [(f"login-failures:user:{username}", limit), (f"login-failures:ip:{ip}", limit * 4)]

    def clean(self):
        for key, limit in self._counters():
            if (cache.get(key) or 0) >= limit:
                minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
                raise forms.ValidationError(
                    f"Too many failed logins. Try again in {minutes} minutes, or reset your password.",
                    code="rate_limited",
                )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            for key, _ in self._counters():
                cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
                cache.incr(key)
            raise
        cache.delete(self._counters()[0][0])
        return cleaned
