"""Security headers Django 5.2 does not set itself: the Content-Security-Policy.

SecurityMiddleware and XFrameOptionsMiddleware (settings.py) send HSTS (with BEACON_HTTPS),
X-Content-Type-Options, Referrer-Policy, Cross-Origin-Opener-Policy and X-Frame-Options.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Only Beacon's own scripts run: no inline <script>, no on* handler, no eval (htmx trigger filters
# `[...]` and hx-on are eval: do not use them), no <style> element. Style *attributes* stay allowed
# (style-src-attr): templates carry data in them (bar heights, indentation, tile widths), they cannot
# run script, and any url() they could load is still held to img-src/font-src. `data:` images are
# Swagger UI's and the admin's icons; the debug page's QR code is inline <svg> markup, not an image.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

CSP_HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Adds Beacon's Content-Security-Policy to every response that does not carry its own.

    JSON, the SDK file and ingestion answers get it too: browsers ignore a CSP on anything that is not
    rendered as a document, so it costs nothing there and protects a JSON body opened directly.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A view that set its own policy (or a report-only trial of one) knows better: keep it.
        if CSP_HEADER not in response.headers and f"{CSP_HEADER}-Report-Only" not in response.headers:
            response.headers[CSP_HEADER] = CONTENT_SECURITY_POLICY
        return response
