#!/usr/bin/env python3
"""Generates the gRPC/protobuf stubs of the gearkv wire contract into gearkv/v1/.

The contract lives in the repository's proto/gearkv/v1/kv_cache.proto. setup.py calls
generate() at build/install time, so `pip install ./client/python` always ships stubs that
match the proto it was built from. Run this file directly to refresh the stubs of an in-tree
checkout (e.g. for `pip install -e`): `python client/python/gen_proto.py`.

Needs grpcio-tools (a build requirement in pyproject.toml). The generated files are not
committed (see .gitignore); tests/test_stubs.py checks that installed stubs match the proto.
"""
from __future__ import annotations

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# proto/ at the repository root, two levels above client/python/.
DEFAULT_PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO_FILE = "gearkv/v1/kv_cache.proto"
OUT_DIR = HERE  # protoc writes gearkv/v1/kv_cache_pb2*.py under it
GENERATED = ("kv_cache_pb2.py", "kv_cache_pb2.pyi", "kv_cache_pb2_grpc.py")


def proto_root() -> str | None:
    """Where kv_cache.proto's import root is, or None when building outside the repository."""
    root = os.environ.get("GEARKV_PROTO_ROOT", DEFAULT_PROTO_ROOT)
    return root if os.path.isfile(os.path.join(root, PROTO_FILE)) else None


def generate(out_dir: str = OUT_DIR, root: str | None = None) -> None:
    """Runs grpc_tools.protoc on kv_cache.proto; raises RuntimeError when it fails."""
    root = root or proto_root()
    if root is None:
        raise RuntimeError(f"{PROTO_FILE} not found (set GEARKV_PROTO_ROOT to the proto/ folder)")
    from grpc_tools import protoc  # build requirement
    import grpc_tools

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        PROTO_FILE,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"grpc_tools.protoc failed on {os.path.join(root, PROTO_FILE)}")


def generated_versions(out_dir: str = OUT_DIR) -> tuple[str | None, str | None]:
    """(protobuf gencode version, grpcio version) that the generated stubs need at run time."""
    pkg = os.path.join(out_dir, "gearkv", "v1")
    pb = grpc = None
    try:
        with open(os.path.join(pkg, "kv_cache_pb2.py"), encoding="utf-8") as f:
            m = re.search(r"Protobuf Python Version: ([0-9.]+)", f.read())
            pb = m.group(1) if m else None
        with open(os.path.join(pkg, "kv_cache_pb2_grpc.py"), encoding="utf-8") as f:
            m = re.search(r"GRPC_GENERATED_VERSION = '([0-9.]+)'", f.read())
            grpc = m.group(1) if m else None
    except FileNotFoundError:
        pass
    return pb, grpc


if __name__ == "__main__":
    generate()
    print("generated", ", ".join(os.path.join("gearkv", "v1", g) for g in GENERATED),
          "needs protobuf>=%s grpcio>=%s" % generated_versions(), file=sys.stderr)
