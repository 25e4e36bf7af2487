"""Exceptions raised by the gearkv client: one class per status code the service documents.

Every error carries the gRPC status code (`code`) and the server's message (`details`), which
says what was wrong. Catch `GearKVError` for all of them.
"""
from __future__ import annotations

import grpc


class GearKVError(Exception):
    """A failed call; `code` is the grpc.StatusCode, `details` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str, method: str = ""):
        self.code = code
        self.details = details
        self.method = method
        name = code.name if code is not None else "UNKNOWN"
        super().__init__(f"{method + ': ' if method else ''}{name}: {details}")


class InvalidArgumentError(GearKVError):
    """Bad shape, dtype, spec, preset, size, key or layer range."""


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
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def from_rpc_error(err: grpc.RpcError, method: str = "") -> GearKVError:
    """The GearKVError subclass for a grpc.RpcError raised by a stub call."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return _BY_CODE.get(code, GearKVError)(code, details or "", method)
