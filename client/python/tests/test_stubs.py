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
