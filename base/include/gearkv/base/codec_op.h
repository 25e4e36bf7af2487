// Which way a codec call went; shared by the server's observer interface and its metrics.
#ifndef GEARKV_BASE_CODEC_OP_H_
#define GEARKV_BASE_CODEC_OP_H_

#include <cstdint>

namespace gearkv {

enum class CodecOp : uint8_t { kCompress, kDecompress };

}  // namespace gearkv

#endif  // GEARKV_BASE_CODEC_OP_H_
