"""gearkv: Python client of the gearkv KV-cache compression service.

    import gearkv
    with gearkv.Client("127.0.0.1:50051", namespace="smollm2-135m/tenant-a") as c:
        keys = gearkv.chunk_keys(token_ids)                   # one key per 256-token chunk
        block = gearkv.hf.cache_to_block(cache, 0, 256)       # [layers][2][heads][256][dim]
        c.put(keys[0], block, preset="gear4")
        hits = c.lookup(keys).prefix_hits
        restored = c.get(keys[0], as_torch=True)              # COMPRESSED, decoded here
        c.get_into(keys[0], kv_buffer)                        # into a caller-owned tensor

The data path is the C++ client and codec (the native module gearkv._native); gearkv.codec
compresses and decodes blocks in-process without a server.
"""
from importlib import metadata as _metadata

from gearkv import codec, hf
from gearkv.client import (ENCODINGS, LAYOUTS, PRESETS, SERVICE_NAME, BlockInfo, BlockStats,
                           Client, CompressedBlock, LookupResult, PutResult, make_spec)
from gearkv.errors import (DataLossError, GearKVError, InvalidArgumentError, NotFoundError,
                           ResourceExhaustedError, StatusCode, UnauthenticatedError,
                           UnavailableError)
from gearkv.keys import CHUNK_TOKENS, chunk_key, chunk_keys, chunk_ranges
from gearkv.retry import RetryPolicy
from gearkv.tensors import bf16_bits_to_float32, float32_to_bf16_bits

try:  # the installed distribution's version, which the build takes from CMakeLists.txt
    __version__ = _metadata.version("gearkv")
except _metadata.PackageNotFoundError:  # imported from a checkout without installing
    __version__ = "unknown"
__all__ = [
    "Client", "PutResult", "BlockStats", "BlockInfo", "CompressedBlock", "LookupResult",
    "PRESETS", "LAYOUTS", "ENCODINGS", "SERVICE_NAME", "RetryPolicy", "make_spec",
    "StatusCode", "GearKVError", "InvalidArgumentError", "NotFoundError",
    "ResourceExhaustedError", "DataLossError", "UnavailableError", "UnauthenticatedError",
    "CHUNK_TOKENS", "chunk_key", "chunk_keys", "chunk_ranges", "codec", "hf",
    "bf16_bits_to_float32", "float32_to_bf16_bits",
]
