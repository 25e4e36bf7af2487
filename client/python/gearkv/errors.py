"""Exceptions raised by the gearkv client: one class per status code the service documents.

Every error carries the status code (`code`, a gearkv.errors.StatusCode, whose names and numbers
are gRPC's and absl's) and the server's message (`details`), which says what was wrong. Catch
`GearKVError` for all of them. Errors found on the client side (a bad argument, a malformed
answer) are INVALID_ARGUMENT / INTERNAL naming the problem, as in the C++ client.
"""
from __future__ import annotations

import enum


class StatusCode(enum.IntEnum):
    """The canonical status codes (grpc.StatusCode and absl::StatusCode share these)."""
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class GearKVError(Exception):
    """A failed call; `code` is the StatusCode, `details` the server's message."""

    def __init__(self, code: StatusCode, details: str, method: str = ""):
        self.code = code
        self.details = details
        self.method = method
        name = code.name if code is not None else "UNKNOWN"
        super().__init__(f"{method + ': ' if method else ''}{name}: {details}")


class InvalidArgumentError(GearKVError, ValueError):
    """Bad shape, dtype, spec, preset, size, key or layer range."""

    __str__ = GearKVError.__str__


class NotFoundError(GearKVError, KeyError):
    """No block under (namespace, key), or it expired."""

    __str__ = GearKVError.__str__  # KeyError would quote the message


class ResourceExhaustedError(GearKVError):
    """Block over the size limit, budget cannot be freed, or the worker pool is saturated."""


class DataLossError(GearKVError):
    """A stored block failed its checksum and was dropped."""


class UnavailableError(GearKVError):
    """The server is unreachable or draining."""


class UnauthenticatedError(GearKVError):
    """A token is required and was missing or wrong."""


_BY_CODE = {
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    StatusCode.DATA_LOSS: DataLossError,
    StatusCode.UNAVAILABLE: UnavailableError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def from_status(code: int, details: str, method: str = "") -> GearKVError:
    """The GearKVError subclass for an absl / gRPC status code and its message."""
    try:
        status = StatusCode(code)
    except ValueError:
        status = StatusCode.UNKNOWN
    return _BY_CODE.get(status, GearKVError)(status, details or "", method)
