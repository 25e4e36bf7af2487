"""Build hook: generates the wire-contract stubs from proto/ before packaging.

Everything static is in pyproject.toml. The run-time floor of protobuf and grpcio follows the
grpcio-tools that generated the stubs (generated code refuses older runtimes), so the
dependencies are computed here; grpcio-health-checking (the standard grpc.health.v1 stubs) is
released with grpcio and gets the same floor. The version is the one the top-level
CMakeLists.txt states (project(gearkv VERSION ...)), so C++ and Python report the same.
"""
import os
import re
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



def project_version() -> str:
    """project(gearkv VERSION x.y.z) of the repository's CMakeLists.txt."""
    cmake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "CMakeLists.txt")
    with open(cmake, encoding="utf-8") as f:
        match = re.search(r"project\(gearkv\s+VERSION\s+([0-9][0-9.]*)", f.read())
    if not match:
        raise RuntimeError(f"gearkv: no project(gearkv VERSION ...) in {cmake}")
    return match.group(1)


setup(version=project_version(), install_requires=requires)
