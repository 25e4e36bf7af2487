"""A minimal grpc.health.v1 Health.Check call without the grpcio-health-checking package.

HealthCheckRequest is {string service = 1}; HealthCheckResponse is {ServingStatus status = 1}.
Both are encoded by hand (one length-delimited field / one varint field), which keeps the
client's dependencies to grpcio + protobuf + numpy.
"""
from __future__ import annotations

HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_request(service: str) -> bytes:
    raw = service.encode("utf-8")
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def decode_response(data: bytes) -> str:
    """The ServingStatus name; unknown fields are skipped."""
    i, status = 0, 0
    while i < len(data):
        tag, i = _read_varint(data, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _read_varint(data, i)
            if field == 1:
                status = value
        elif wire == 2:
            length, i = _read_varint(data, i)
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"bad wire type {wire} in HealthCheckResponse")
    return STATUS_NAMES.get(status, f"STATUS_{status}")


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint in HealthCheckResponse")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
