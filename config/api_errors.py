"""Every API error as {"code", "message"} (plus DRF's details where a field was wrong)."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(detail, dict) and set(detail) == {"detail"}:
        message = str(detail["detail"])
        body = {"code": getattr(detail["detail"], "code", "error"), "message": message}
    else:
        body = {
            "code": getattr(exc, "default_code", "invalid"),
            "message": "The request is invalid.",
            "errors": detail,
        }
    response.data = body
    return response
