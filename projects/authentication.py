"""DRF authentication by API key, accepted the ways SDKs send it (DESIGN.md section 4)."""

import base64
import binascii

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from projects.keys import KeyInfo, authenticate_key


class KeyPrincipal:
    """request.user for key-authenticated requests: the key, not a person."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: KeyInfo):
        self.key = key

    def __str__(self) -> str:
        return f"api key {self.key.key_id}"


def key_from_request(request) -> str | None:
    """X-API-Key, Authorization: Bearer, Basic with the key as user name, or ?apiKey= (sendBeacon)."""
    header = request.META.get("HTTP_X_API_KEY")
    if header:
        return header.strip()
    authorization = get_authorization_header(request).decode("latin-1").strip()
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    if scheme.lower() == "basic" and credentials:
        try:
            user, _, _ = base64.b64decode(credentials.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return (
        request.query_params.get("apiKey") if hasattr(request, "query_params") else request.GET.get("apiKey")
    )


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        raw = key_from_request(request)
        if raw is None:
            return None
        key = authenticate_key(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or expired API key.")
        return KeyPrincipal(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="beacon"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes key authentication."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
