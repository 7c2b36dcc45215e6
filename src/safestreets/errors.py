"""One exception hierarchy. Every user error carries a message and a hint.

The CLI prints ``error: <message>`` and ``hint: <hint>`` and exits 2; the API turns
the same exception into its JSON error envelope. A traceback means a bug.
"""

from __future__ import annotations


class SafeStreetsError(Exception):
    """Base class of every error a user can cause and fix."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(SafeStreetsError):
    code = "config_error"
    http_status = 500


class InputError(SafeStreetsError):
    """A file or argument that cannot be used as given."""

    code = "input_error"


class ProfileError(SafeStreetsError):
    """A source profile that is missing or malformed."""

    code = "profile_error"


class StoreError(SafeStreetsError):
    """The database is unreachable, not initialised or refused a write."""

    code = "store_error"
    http_status = 503


class ReferenceError_(SafeStreetsError):
    """An unknown code in the reference data (ICCS code, country, admin unit)."""

    code = "unknown_reference"


class NotFound(SafeStreetsError):
    code = "not_found"
    http_status = 404


class AuthenticationFailed(SafeStreetsError):
    """A login or API token that does not identify an active user."""

    code = "unauthorized"
    http_status = 401


class AccessDenied(SafeStreetsError):
    """A known principal asked for something its roles do not allow."""

    code = "forbidden"
    http_status = 403


class TooManyAttempts(SafeStreetsError):
    """Logins refused for a while after repeated failures (per user name and per address)."""

    code = "throttled"
    http_status = 429
