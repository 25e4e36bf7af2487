// What a stored block costs and how close it is: gearkv.v1.BlockStats in C++ terms (the client's
// PutResult / GetResult carry it; gearkv/wire.h converts). A plain value; no protobuf needed.
#ifndef GEARKV_BLOCK_COST_H_
#define GEARKV_BLOCK_COST_H_

#include <cstdint>
#include <optional>

namespace gearkv {

struct BlockCost {
  uint64_t raw_bytes = 0;     // the tensor as sent
  uint64_t stored_bytes = 0;  // the compressed block, all metadata included
  double bits_per_element = 0;
  double ratio = 0;                      // raw_bytes / stored_bytes
  std::optional<double> relative_error;  // ||X - X^||_F / ||X||_F, when measured at put

  friend bool operator==(const BlockCost&, const BlockCost&) = default;
};

}  // namespace gearkv

#endif  // GEARKV_BLOCK_COST_H_
