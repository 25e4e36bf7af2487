#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gearkv/client.h"

extern char** environ;

namespace gearkv::e2e {
namespace {

std::string BaseTempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Spawns `args` with stdout to `stdout_fd` (or the file `stdout_path`) and stderr to
// `stderr_path`.
absl::StatusOr<pid_t> Spawn(std::vector<std::string> args, int stdout_fd,
                            const std::string& stdout_path, const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_addclose(&actions, stdout_fd);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<char*> argv = Argv(args);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("posix_spawn ", args[0], ": ", std::strerror(rc)));
  }
  return pid;
}

// Waits for `pid` up to `timeout`; its exit code, -signal, or nullopt on timeout.
std::optional<int> WaitPid(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -1000;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

std::string ServerBinary() { return GEARKV_SERVER_PATH; }
std::string CliBinary() { return GEARKV_CLI_PATH; }

TempDir::TempDir() {
  std::string tmpl = BaseTempDir() + "/gearkv-e2e-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& flags, absl::Duration timeout) {
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->log_path_ = absl::StrCat(BaseTempDir(), "/gearkv-e2e-server-", ::getpid(), "-",
                                   absl::ToUnixNanos(absl::Now()), ".log");
  std::vector<std::string> args = {ServerBinary(), "--listen=127.0.0.1:0", "--metrics_port=0",
                                   "--lame_duck=0s"};  // a test that wants one passes its own
  args.insert(args.end(), flags.begin(), flags.end());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  auto pid = Spawn(args, fds[1], "", server->log_path_);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    return pid.status();
  }
  server->pid_ = *pid;
  server->stdout_fd_ = fds[0];
  ServerProcess* s = server.get();
  server->reader_ = std::thread([s] {
    char buf[4096];
    while (true) {
      const ssize_t n = read(s->stdout_fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      absl::MutexLock lock(&s->mu_);
      if (n <= 0) {
        s->stdout_ += "\n<eof>";
        return;
      }
      s->stdout_.append(buf, static_cast<size_t>(n));
    }
  });
  const absl::Time deadline = absl::Now() + timeout;
  // "gearkv-server listening on 127.0.0.1:PORT (...)"
  static constexpr std::string_view kMarker = "listening on ";
  std::string target;
  {
    absl::MutexLock lock(&server->mu_);
    auto announced = [s]() -> bool ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
      const size_t at = s->stdout_.find(kMarker);
      return (at != std::string::npos &&
              s->stdout_.find(' ', at + kMarker.size()) != std::string::npos) ||
             s->stdout_.find("<eof>") != std::string::npos;
    };
    server->mu_.AwaitWithDeadline(absl::Condition(&announced), deadline);
    const size_t at = server->stdout_.find(kMarker);
    if (at != std::string::npos) {
      const size_t begin = at + kMarker.size();
      const size_t end = server->stdout_.find(' ', begin);
      if (end != std::string::npos) target = server->stdout_.substr(begin, end - begin);
    }
  }
  if (target.empty()) {
    return absl::UnavailableError(absl::StrCat("gearkv-server did not start:\n", server->Output()));
  }
  server->target_ = target;
  ClientOptions options;
  options.target = server->target_;
  options.max_attempts = 1;
  auto client = Client::Create(options);
  if (!client.ok()) return client.status();
  while (true) {
    CallOptions call;
    call.deadline = absl::Seconds(1);
    auto state = (*client)->Health("", call);
    if (state.ok() && *state == HealthState::kServing) return server;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "gearkv-server at ", server->target_, " never became SERVING (",
          state.ok() ? std::string(HealthStateName(*state)) : state.status().ToString(), "):\n",
          server->Output()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<int> ServerProcess::WaitForExit(absl::Duration timeout) {
  std::optional<int> code = WaitPid(pid_, timeout);
  if (!code) {
    Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("gearkv-server did not exit within ", absl::FormatDuration(timeout)));
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
  return *code;
}

absl::StatusOr<int> ServerProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("server not running");
  kill(pid_, SIGTERM);
  return WaitForExit(timeout);
}

void ServerProcess::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitPid(pid_, absl::Seconds(30));
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
}

std::string ServerProcess::Output() const {
  std::string out;
  {
    absl::MutexLock lock(&mu_);
    out = stdout_;
  }
  std::string log = ReadWholeFile(log_path_);
  if (log.size() > 20000) log = "..." + log.substr(log.size() - 20000);
  return absl::StrCat("--- stdout ---\n", out, "\n--- stderr (", log_path_, ") ---\n", log);
}

ServerProcess::~ServerProcess() {
  Kill();
  std::remove(log_path_.c_str());
}

CliResult RunCli(const std::vector<std::string>& args, absl::Duration timeout) {
  TempDir dir;
  const std::string out_path = dir.path() + "/out", err_path = dir.path() + "/err";
  std::vector<std::string> argv = {CliBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult result;
  auto pid = Spawn(argv, -1, out_path, err_path);
  if (!pid.ok()) {
    result.err = pid.status().ToString();
    return result;
  }
  std::optional<int> code = WaitPid(*pid, timeout);
  if (!code) {
    kill(*pid, SIGKILL);
    WaitPid(*pid, absl::Seconds(10));
    result.err = "<timed out>\n";
  }
  result.exit_code = code.value_or(-SIGKILL);
  result.out = ReadWholeFile(out_path);
  result.err += ReadWholeFile(err_path);
  return result;
}

}  // namespace gearkv::e2e
