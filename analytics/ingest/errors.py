class IngestError(Exception):
    """The whole request is refused: an HTTP status, a stable error code and a message for developers."""

    def __init__(self, status: int, error_code: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.retry_after = retry_after


class EventRejected(Exception):
    """One event of a request is refused; the others are kept."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message
