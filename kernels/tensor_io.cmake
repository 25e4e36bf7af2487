# gearkv::tensor_io — owning tensors and the .npy / .safetensors file formats (tensor_file.h).
# Included from kernels/CMakeLists.txt; uses the codec's tensor.h types (DType, TensorView).
find_package(nlohmann_json 3 CONFIG REQUIRED)

add_library(gearkv_tensor_io src/tensor_file.cc)
add_library(gearkv::tensor_io ALIAS gearkv_tensor_io)
target_include_directories(gearkv_tensor_io PUBLIC include)
target_link_libraries(gearkv_tensor_io
  PUBLIC gearkv::codec absl::status absl::statusor
  PRIVATE gearkv_build_flags absl::strings nlohmann_json::nlohmann_json)

gearkv_test(gearkv_tensor_io_test
  SOURCES src/tensor_file_test.cc
  LIBS gearkv::tensor_io absl::strings
  LABELS unit)
