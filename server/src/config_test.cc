#include "gearkv/server/config.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gearkv/base/strings.h"
#include "gearkv/server/config_flags.h"
#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

TEST(ByteSizeTest, ParsesPlainAndSuffixedSizes) {
  EXPECT_EQ(*ParseByteSize("1000"), 1000u);
  EXPECT_EQ(*ParseByteSize("12B"), 12u);
  EXPECT_EQ(*ParseByteSize("4K"), 4096u);
  EXPECT_EQ(*ParseByteSize("512MiB"), uint64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("4GiB"), uint64_t{4} << 30);
  EXPECT_EQ(*ParseByteSize("4gib"), uint64_t{4} << 30);
  EXPECT_EQ(*ParseByteSize("2T"), uint64_t{2} << 40);
  EXPECT_EQ(*ParseByteSize("3GB"), uint64_t{3000000000});
  EXPECT_EQ(*ParseByteSize(" 7MB "), uint64_t{7000000});
}

TEST(ByteSizeTest, RejectsGarbageWithAMessage) {
  for (const char* bad : {"", "GiB", "-1", "4XB", "1.5GiB", "99999999999999999999"}) {
    absl::StatusOr<uint64_t> size = ParseByteSize(bad);
    EXPECT_EQ(size.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseByteSize("20000000T").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ByteSizeTest, UnparseRoundTrips) {
  for (uint64_t bytes :
       {uint64_t{0}, uint64_t{1000}, uint64_t{4096}, uint64_t{4} << 30, (uint64_t{3} << 20) + 1}) {
    EXPECT_EQ(*ParseByteSize(AbslUnparseFlag(ByteSize{bytes})), bytes);
  }
  EXPECT_EQ(AbslUnparseFlag(ByteSize{uint64_t{4} << 30}), "4GiB");
}

TEST(ConfigTest, DefaultsAreValid) {
  ServerConfig config;
  EXPECT_TRUE(ValidateConfig(config).ok());
  EXPECT_EQ(config.default_preset, "gear4");
  EXPECT_EQ(config.backend, Backend::kAuto);
  EXPECT_TRUE(config.disk_dir.empty());
}

TEST(ConfigTest, ValidateNamesTheBadField) {
  ServerConfig config;
  config.default_preset = "gear5";
  absl::Status status = ValidateConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("gear5"), std::string_view::npos);

  config = ServerConfig();
  config.memory_budget_bytes = 0;
  EXPECT_NE(ValidateConfig(config).message().find("memory budget"), std::string_view::npos);

  config = ServerConfig();
  config.metrics_port = 70000;
  EXPECT_NE(ValidateConfig(config).message().find("metrics port"), std::string_view::npos);

  config = ServerConfig();
  config.worker_threads = -1;
  EXPECT_FALSE(ValidateConfig(config).ok());
}

TEST(ConfigTest, ParsesPoliciesAndBackends) {
  EXPECT_EQ(*ParseDiskPolicy("write_through"), DiskPolicy::kWriteThrough);
  EXPECT_EQ(*ParseDiskPolicy("spill-on-evict"), DiskPolicy::kSpillOnEvict);
  EXPECT_FALSE(ParseDiskPolicy("lazy").ok());
  EXPECT_EQ(*ParseDiskSync("always"), DiskSync::kAlways);
  EXPECT_EQ(*ParseDiskSync("none"), DiskSync::kNone);
  EXPECT_FALSE(ParseDiskSync("sometimes").ok());
  EXPECT_EQ(*ParseBackend("CPU"), Backend::kCpu);
  EXPECT_EQ(*ParseBackend("cuda"), Backend::kCuda);
  EXPECT_EQ(*ParseBackend("auto"), Backend::kAuto);
  EXPECT_FALSE(ParseBackend("tpu").ok());
}

TEST(ConfigFlagsTest, EnvVarNames) {
  EXPECT_EQ(EnvVarName("listen"), "GEARKV_LISTEN");
  EXPECT_EQ(EnvVarName("memory_budget"), "GEARKV_MEMORY_BUDGET");
  for (std::string_view name : ServerFlagNames()) {
    EXPECT_NE(absl::FindCommandLineFlag(ToAbsl(name)), nullptr) << name;
  }
}

TEST(ConfigFlagsTest, DefaultFlagsGiveTheDefaultConfig) {
  absl::FlagSaver saver;
  absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerConfig defaults;
  EXPECT_EQ(config->listen_address, defaults.listen_address);
  EXPECT_EQ(config->memory_budget_bytes, defaults.memory_budget_bytes);
  EXPECT_EQ(config->max_block_bytes, defaults.max_block_bytes);
  EXPECT_EQ(config->drain_deadline, defaults.drain_deadline);
  EXPECT_EQ(config->disk_policy, defaults.disk_policy);
}

TEST(ConfigFlagsTest, EnvironmentSetsFlags) {
  absl::FlagSaver saver;
  const std::map<std::string, std::string> env = {{"GEARKV_LISTEN", "127.0.0.1:7000"},
                                                  {"GEARKV_MEMORY_BUDGET", "512MiB"},
                                                  {"GEARKV_DISK_DIR", "/tmp/gearkv-db"},
                                                  {"GEARKV_DISK_POLICY", "spill_on_evict"},
                                                  {"GEARKV_DEFAULT_PRESET", "gear2"},
                                                  {"GEARKV_WORKER_THREADS", "3"},
                                                  {"GEARKV_DRAIN_DEADLINE", "5s"},
                                                  {"GEARKV_BACKEND", "cpu"},
                                                  {"GEARKV_LAME_DUCK", "7s"},
                                                  {"GEARKV_KEEPALIVE_TIME", "15s"},
                                                  {"UNRELATED", "x"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ASSERT_TRUE(ApplyEnvironment(getenv).ok());
  absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen_address, "127.0.0.1:7000");
  EXPECT_EQ(config->memory_budget_bytes, uint64_t{512} << 20);
  EXPECT_EQ(config->disk_dir, "/tmp/gearkv-db");
  EXPECT_EQ(config->disk_policy, DiskPolicy::kSpillOnEvict);
  EXPECT_EQ(config->default_preset, "gear2");
  EXPECT_EQ(config->worker_threads, 3);
  EXPECT_EQ(config->drain_deadline, absl::Seconds(5));
  EXPECT_EQ(config->backend, Backend::kCpu);
  EXPECT_EQ(config->lame_duck, absl::Seconds(7));
  EXPECT_EQ(config->keepalive_time, absl::Seconds(15));
}

TEST(ConfigTest, ConnectionDurationsOutOfRangeAreRefused) {
  for (auto change : std::vector<std::function<void(ServerConfig&)>>{
           [](ServerConfig& c) { c.lame_duck = absl::Seconds(-1); },
           [](ServerConfig& c) { c.max_connection_idle = absl::ZeroDuration(); },
           [](ServerConfig& c) { c.keepalive_timeout = absl::ZeroDuration(); },
           [](ServerConfig& c) { c.max_connection_age = absl::Seconds(-1); }}) {
    ServerConfig config;
    change(config);
    EXPECT_EQ(ValidateConfig(config).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(ValidateConfig(ServerConfig{}).ok());
}

TEST(ConfigFlagsTest, CommandLineWinsOverEnvironment) {
  absl::FlagSaver saver;
  ASSERT_TRUE(ApplyEnvironment([](const char* name) -> const char* {
                return std::string_view(name) == "GEARKV_LISTEN" ? "127.0.0.1:7000" : nullptr;
              }).ok());
  // What absl::ParseCommandLine does for --listen=...: set the flag after the environment.
  std::string error;
  ASSERT_TRUE(absl::FindCommandLineFlag("listen")->ParseFrom("127.0.0.1:8000", &error));
  EXPECT_EQ(ConfigFromFlags()->listen_address, "127.0.0.1:8000");
}

TEST(ConfigFlagsTest, BadEnvironmentValueNamesTheVariable) {
  absl::FlagSaver saver;
  absl::Status status = ApplyEnvironment([](const char* name) -> const char* {
    return std::string_view(name) == "GEARKV_MEMORY_BUDGET" ? "lots" : nullptr;
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("GEARKV_MEMORY_BUDGET"), std::string_view::npos) << status;
}

TEST(ConfigFlagsTest, BadPolicyFlagIsAnError) {
  absl::FlagSaver saver;
  std::string error;
  ASSERT_TRUE(absl::FindCommandLineFlag("disk_policy")->ParseFrom("lazy", &error));
  EXPECT_EQ(ConfigFromFlags().status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gearkv::server
