"""Generated stubs of the gearkv.v1 wire contract (kv_cache_pb2, kv_cache_pb2_grpc).

Generated from proto/gearkv/v1/kv_cache.proto by gen_proto.py at build time.
"""
