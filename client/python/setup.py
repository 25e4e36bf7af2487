"""Build hook: generates the wire-contract stubs from proto/ before packaging.

Everything static is in pyproject.toml. The run-time floor of protobuf and grpcio follows the
grpcio-tools that generated the stubs (generated code refuses older runtimes), so the
dependencies are computed here; grpcio-health-checking (the standard grpc.health.v1 stubs) is
released with grpcio and gets the same floor.
"""
import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_proto  # noqa: E402

if gen_proto.proto_root() is not None:
    gen_proto.generate()
elif not os.path.exists(os.path.join(gen_proto.OUT_DIR, "gearkv", "v1", "kv_cache_pb2.py")):
    raise RuntimeError("gearkv: no proto/ folder and no pre-generated stubs; build from the "
                       "repository (pip install ./client/python) or set GEARKV_PROTO_ROOT")

pb_version, grpc_version = gen_proto.generated_versions()
requires = [
    f"grpcio>={grpc_version}" if grpc_version else "grpcio",
    f"grpcio-health-checking>={grpc_version}" if grpc_version else "grpcio-health-checking",
    f"protobuf>={pb_version}" if pb_version else "protobuf",
    "numpy>=1.22",
]

setup(install_requires=requires)
