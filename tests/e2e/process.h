// Child processes for the end-to-end tests: the real gearkv-server (started on a free loopback
// port, ready once its health service says SERVING) and one-shot runs of the `gearkv` CLI.
// Every wait is bounded; a server still running when its ServerProcess is destroyed is killed.
#ifndef GEARKV_TESTS_E2E_PROCESS_H_
#define GEARKV_TESTS_E2E_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace gearkv::e2e {

// Paths of the binaries under test (compile-time defines from tests/CMakeLists.txt).
std::string ServerBinary();
std::string CliBinary();

// A fresh directory under $TEST_TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ServerProcess {
 public:
  // Starts gearkv-server with --listen=127.0.0.1:0 --metrics_port=0 and `flags`, reads the port
  // it reports, and waits until Health is SERVING. Its stderr goes to a log file that failures
  // print.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& flags, absl::Duration timeout = absl::Seconds(60));
  ~ServerProcess();

  const std::string& target() const { return target_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // SIGTERM, then waits up to `timeout` for the exit; returns the exit code (or -signal).
  // On timeout the process is killed and DEADLINE_EXCEEDED returned.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(40));
  // SIGKILL and reap.
  void Kill();
  // The server's stdout so far and its stderr log (for failure messages).
  std::string Output() const;

 private:
  ServerProcess() = default;
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string target_;
  std::string log_path_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::string stdout_ ABSL_GUARDED_BY(mu_);
};

struct CliResult {
  int exit_code = -1;  // -signal when killed by one
  std::string out;
  std::string err;
};

// Runs `gearkv args...` to completion (killed after `timeout`).
CliResult RunCli(const std::vector<std::string>& args, absl::Duration timeout = absl::Seconds(60));

}  // namespace gearkv::e2e

#endif  // GEARKV_TESTS_E2E_PROCESS_H_
