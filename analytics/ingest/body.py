"""Reading a request body: size limits, gzip, content type, UTF-8 and JSON, each with its own 4xx."""

import base64
import binascii
import zlib
from urllib.parse import parse_qs

import orjson

from analytics.ingest.errors import IngestError

MAX_REQUEST_BYTES = 20 * 1024 * 1024
JSON_CONTENT_TYPES = {"application/json", "text/plain", ""}  # sendBeacon sends text/plain
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _too_large(what: str) -> IngestError:
    return IngestError(413, "payload-too-large", f"{what} exceeds {MAX_REQUEST_BYTES // (1024 * 1024)} MB.")


def _gunzip(data: bytes) -> bytes:
    """Decompress, refusing to inflate past the request limit (a gzip bomb is a 413, not an OOM)."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, MAX_REQUEST_BYTES + 1)
    except zlib.error as error:
        raise IngestError(
            400,
            "invalid-gzip",
            f"Content-Encoding is gzip but the body is not a valid gzip stream ({error}).",
        ) from None
    if len(out) > MAX_REQUEST_BYTES or decompressor.unconsumed_tail:
        raise _too_large("The decompressed body")
    if not decompressor.eof:
        raise IngestError(400, "invalid-gzip", "The gzip stream ends early: the body was cut off.")
    return out


def content_type(request) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def raw_body(request) -> bytes:
    """The body, decompressed, within the size limit."""
    length = request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise _too_large("The request body")
    data = request.body
    if len(data) > MAX_REQUEST_BYTES:
        raise _too_large("The request body")
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if not encoding and request.GET.get("compression") == "gzip-js":
        encoding = "gzip"  # posthog-js says so in the query string
    if encoding == "gzip":
        return _gunzip(data)
    if encoding not in ("", "identity"):
        raise IngestError(
            415,
            "unsupported-content-encoding",
            f"Content-Encoding {encoding!r} is not supported: use gzip or none.",
        )
    return data


def read_json_body(request) -> tuple[object, int, int]:
    """(parsed body, its size in bytes after decompression, how many `{` and `[` it holds)."""
    if content_type(request) not in JSON_CONTENT_TYPES:
        raise IngestError(
            415,
            "unsupported-content-type",
            f"Send JSON (Content-Type: application/json), not {content_type(request)}.",
        )
    return parse_json(raw_body(request))


def read_form_data_body(request) -> tuple[object, int, int]:
    """Mixpanel's form body, `data=<JSON, or base64 of JSON>&verbose=1&ip=0`; or JSON (its /import)."""
    if content_type(request) != FORM_CONTENT_TYPE:
        return read_json_body(request)
    form = parse_qs(raw_body(request).decode("utf-8", "surrogateescape"), keep_blank_values=True)
    if "data" not in form:
        raise IngestError(
            400,
            "missing-data",
            "A form body must carry the events as `data=<JSON>` (Mixpanel's format); "
            "otherwise send JSON with Content-Type: application/json.",
        )
    data = form["data"][0].encode("utf-8", "surrogateescape")
    if data.strip() and not data.lstrip().startswith((b"{", b"[")):
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise IngestError(
                400, "invalid-data", "The `data` field is neither JSON nor base64 of JSON."
            ) from None
    return parse_json(data)


def parse_json(data: bytes) -> tuple[object, int, int]:
    if not data.strip():
        raise IngestError(400, "empty-body", "The request body is empty: send a JSON object or array.")
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise IngestError(400, "invalid-utf8", "The body is not valid UTF-8 text.") from None
        raise IngestError(400, "invalid-json", f"The body is not valid JSON: {error}.") from None
    if b"\\u0000" in data:
        # PostgreSQL text and jsonb cannot hold NUL characters: drop them rather than the event.
        parsed = strip_nul(parsed)
    # An upper bound of any value's nesting depth, for free: most bodies need no depth walk.
    return parsed, len(data), data.count(b"{") + data.count(b"[")


def strip_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {strip_nul(key): strip_nul(item) for key, item in value.items()}
    return value
