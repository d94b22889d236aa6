"""The browser SDK at a stable URL: ``/sdk/beacon.js`` (readable) and ``/sdk/beacon.min.js``.

Not under ``/static/``: collectstatic's hashed names change with every release, and a snippet
pasted into someone's site must keep working. Browsers revalidate within the hour (ETag, 304), so
a fixed SDK reaches every site within an hour without a new snippet.
"""

import hashlib
from functools import cache
from pathlib import Path

from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_GET

SDK_DIR = Path(__file__).resolve().parents[2] / "static" / "sdk"
FILES = {"beacon.js", "beacon.min.js"}
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


@cache
def _load(name: str) -> tuple[bytes, str]:
    body = (SDK_DIR / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _headers(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    # Loaded by other sites' pages: allowed cross-origin (CORP), readable by their error handlers (CORS).
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def sdk_file(request, name: str) -> HttpResponse:
    if name not in FILES:
        raise Http404("No such SDK file.")
    body, etag = _load(name)
    if etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
        return _headers(HttpResponseNotModified(), etag)
    return _headers(HttpResponse(body, content_type="application/javascript; charset=utf-8"), etag)
