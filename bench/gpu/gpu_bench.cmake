# The GPU codec benchmark; included from kernels/cuda/CMakeLists.txt (only CUDA builds have it).
add_executable(gearkv_gpu_codec_bench ${CMAKE_CURRENT_LIST_DIR}/gpu_codec_bench.cc)
target_link_libraries(gearkv_gpu_codec_bench PRIVATE
  gearkv::codec CUDA::cudart_static absl::strings gearkv_build_flags)
target_include_directories(gearkv_gpu_codec_bench PRIVATE
  ${PROJECT_SOURCE_DIR}/kernels/cuda ${PROJECT_SOURCE_DIR}/kernels/src)
