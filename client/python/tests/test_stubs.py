"""The installed stubs match proto/gearkv/v1/kv_cache.proto (they are generated at build time;
this catches an installed package that is older than the proto)."""
import os
import tempfile

import pytest

from gearkv.v1 import kv_cache_pb2

PROTO_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "proto"))


def test_installed_stubs_match_the_proto():
    protoc = pytest.importorskip("grpc_tools.protoc", reason="grpcio-tools not installed")
    if not os.path.isfile(os.path.join(PROTO_ROOT, "gearkv", "v1", "kv_cache.proto")):
        pytest.skip(f"no proto/ at {PROTO_ROOT}")
    from google.protobuf import descriptor_pb2

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        rc = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"--descriptor_set_out={out}",
                          "gearkv/v1/kv_cache.proto"])
        assert rc == 0
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    current = fds.file[0]
    installed = descriptor_pb2.FileDescriptorProto.FromString(kv_cache_pb2.DESCRIPTOR.serialized_pb)
    for d in (installed, current):  # json_name is filled in by some protoc versions only
        _clear_json_names(d.message_type)
    assert installed == current, ("the installed gearkv stubs are stale: reinstall with "
                                  "`pip install ./client/python` (or run gen_proto.py)")


def _clear_json_names(messages):
    for m in messages:
        for f in m.field:
            f.ClearField("json_name")
        _clear_json_names(m.nested_type)


def test_version_is_the_cmake_projects():
    """The package reports the version project(gearkv VERSION ...) states, as the server does."""
    import re

    import gearkv

    cmake = os.path.join(PROTO_ROOT, "..", "CMakeLists.txt")
    if not os.path.isfile(cmake):
        pytest.skip(f"no CMakeLists.txt at {cmake}")
    with open(cmake, encoding="utf-8") as f:
        expected = re.search(r"project\(gearkv\s+VERSION\s+([0-9][0-9.]*)", f.read()).group(1)
    assert gearkv.__version__ == expected
