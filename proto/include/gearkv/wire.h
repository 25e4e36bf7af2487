// Conversions between gearkv.v1 wire messages and the codec's types (gearkv/tensor.h), shared by
// the server and the clients so both read the wire the same way. Stateless; thread-safe.
#ifndef GEARKV_WIRE_H_
#define GEARKV_WIRE_H_

#include "absl/status/statusor.h"
#include "gearkv/tensor.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::wire {

v1::DType DTypeToWire(DType dtype);
// INVALID_ARGUMENT for DTYPE_UNSPECIFIED or a value outside the enum, naming the valid ones.
absl::StatusOr<DType> DTypeFromWire(int wire);

v1::TensorShape ShapeToWire(const TensorShape& shape);
// Field by field; ValidateShape says whether the shape is usable.
TensorShape ShapeFromWire(const v1::TensorShape& wire);

}  // namespace gearkv::wire

#endif  // GEARKV_WIRE_H_
