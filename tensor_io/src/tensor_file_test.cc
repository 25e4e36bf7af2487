#include "gearkv/tensor_file.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace gearkv {
namespace {

using tensor_io_testing::Code;
using tensor_io_testing::RandomTensor;
using tensor_io_testing::TempPath;
using ::testing::HasSubstr;

TEST(KvViewTest, FiveAndFourDimensional) {
  Tensor t5 = RandomTensor(DType::kFloat16, {3, 2, 4, 16, 8}, 1);
  auto v5 = AsKvView(t5);
  ASSERT_TRUE(v5.ok()) << v5.status();
  EXPECT_EQ(v5->shape, (TensorShape{3, 4, 16, 8}));
  EXPECT_EQ(v5->data, t5.data.data());
  EXPECT_EQ(v5->SizeBytes(), t5.data.size());

  Tensor t4 = RandomTensor(DType::kFloat32, {2, 4, 16, 8}, 2);
  auto v4 = AsMutableKvView(t4);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->shape, (TensorShape{1, 4, 16, 8}));

  Tensor copy = TensorFromView(*v5);
  EXPECT_EQ(copy.dims, t5.dims);
  EXPECT_EQ(copy.data, t5.data);

  Tensor zeros = MakeKvTensor({2, 1, 4, 8}, DType::kBFloat16);
  EXPECT_EQ(zeros.dims, (std::vector<uint64_t>{2, 2, 1, 4, 8}));
  EXPECT_EQ(zeros.data, std::string(2 * 2 * 1 * 4 * 8 * 2, '\0'));
}

TEST(KvViewTest, RejectsNonKvShapes) {
  EXPECT_THAT(AsKvView(RandomTensor(DType::kFloat16, {2, 16, 8}, 1)).status().message(),
              HasSubstr("not a KV block"));
  EXPECT_THAT(AsKvView(RandomTensor(DType::kFloat16, {1, 3, 1, 16, 8}, 1)).status().message(),
              HasSubstr("K|V axis"));
  EXPECT_EQ(Code(AsKvView(RandomTensor(DType::kFloat16, {1, 2, 1, 16, 7}, 1)).status()),
            absl::StatusCode::kInvalidArgument);  // head_dim not a multiple of 8
  Tensor short_data = RandomTensor(DType::kFloat16, {1, 2, 1, 16, 8}, 1);
  short_data.data.resize(10);
  EXPECT_THAT(AsKvView(short_data).status().message(), HasSubstr("holds 10 bytes"));
}

TEST(TensorFileTest, WritesAndReadsBothFormats) {
  Tensor t = RandomTensor(DType::kFloat16, {2, 2, 2, 8, 16}, 7);
  for (std::string ext : {".npy", ".safetensors"}) {
    const std::string path = TempPath("rt" + ext);
    ASSERT_TRUE(WriteTensorFile(path, t, "", {{"key", "abc"}}).ok());
    auto back = ReadTensorFile(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->dims, t.dims);
    EXPECT_EQ(back->data, t.data);
    std::remove(path.c_str());
  }
}

TEST(TensorFileTest, PicksSafetensorsTensorByName) {
  SafetensorsFile file;
  file.tensors.emplace_back("k", RandomTensor(DType::kFloat16, {2}, 1));
  file.tensors.emplace_back("v", RandomTensor(DType::kFloat16, {3}, 2));
  const std::string path = TempPath("two.safetensors");
  ASSERT_TRUE(WriteFileBytesAtomically(path, *SerializeSafetensors(file)).ok());
  EXPECT_THAT(ReadTensorFile(path).status().message(), HasSubstr("pick one of [k, v]"));
  EXPECT_THAT(ReadTensorFile(path, "x").status().message(), HasSubstr("no tensor 'x'"));
  auto v = ReadTensorFile(path, "v");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->dims, (std::vector<uint64_t>{3}));
  std::remove(path.c_str());
}

TEST(TensorFileTest, ReportsFileErrors) {
  EXPECT_EQ(Code(ReadTensorFile("/nonexistent/x.npy").status()), absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(ReadTensorFile("x.txt").status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(ReadTensorFile("x.npy", "name").status()), absl::StatusCode::kInvalidArgument);
  const std::string path = TempPath("garbage.npy");
  ASSERT_TRUE(WriteFileBytesAtomically(path, "not a tensor").ok());
  auto s = ReadTensorFile(path).status();
  EXPECT_EQ(Code(s), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace gearkv
