// Implementation of run_process(): fork, exec and collect the output through pipes.
#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

#include "fd.hpp"

namespace treecopy_test {
namespace {

std::vector<std::string> full_argv(const std::vector<std::string>& argv,
                                   const process_options& options) {
  std::vector<std::string> all;
  if (options.run_as) {
    const std::string id = std::to_string(*options.run_as);
    all = {"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups", "--"};
  }
  all.insert(all.end(), argv.begin(), argv.end());
  return all;
}

// In the child between fork and exec only async-signal-safe calls are allowed: the test process
// may run threads (TBB workers of earlier library calls).
[[noreturn]] void exec_child(char* const* args, int in_fd, int out_fd, int err_fd,
                             const process_options& options) {
  ::dup2(in_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  if (options.nofile_limit) {
    rlimit lim{*options.nofile_limit, *options.nofile_limit};
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(126);
  }
  ::execvp(args[0], args);
  ::_exit(127);
}

void drain(int out_fd, int err_fd, process_result& result) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

}  // namespace

std::string process_result::describe() const {
  std::string text = "command: " + command + "\nexit code: " + std::to_string(exit_code);
  if (signal != 0) text += " (killed by signal " + std::to_string(signal) + ")";
  text += "\nstdout:\n" + printable(out, 4000) + "\nstderr:\n" + printable(err, 4000);
  return text;
}

process_result run_process(const std::vector<std::string>& argv, const process_options& options) {
  const std::vector<std::string> all = full_argv(argv, options);
  std::vector<char*> args;
  process_result result;
  for (const std::string& a : all) {
    args.push_back(const_cast<char*>(a.c_str()));
    result.command += result.command.empty() ? "'" : " '";
    result.command += printable(a);
    result.command += '\'';
  }
  args.push_back(nullptr);

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw_errno("pipe");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe");
  unique_fd in_r(in_pipe[0]), in_w(in_pipe[1]), out_r(out_pipe[0]), out_w(out_pipe[1]),
      err_r(err_pipe[0]), err_w(err_pipe[1]);

  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(args.data(), in_r.get(), out_w.get(), err_w.get(), options);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  // The input is small (a few bytes at most), so it fits the pipe buffer without blocking.
  if (!options.stdin_text.empty()) {
    (void)!::write(in_w.get(), options.stdin_text.data(), options.stdin_text.size());
  }
  in_w.reset();
  drain(out_r.get(), err_r.get(), result);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool tool_present(const char* name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    if (::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::size_t thread_count() {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return 0;
  std::size_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    // The kernel's io_uring workers ("iou-wrk-PID") are listed among the process's threads, but
    // start and end by themselves, not by anything the copy starts (small-file batches).
    const std::string comm_path = std::string("/proc/self/task/") + e->d_name + "/comm";
    char comm[32] = {};
    const int fd = ::open(comm_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::read(fd, comm, sizeof comm - 1);
      ::close(fd);
    }
    if (std::string_view(comm).substr(0, 8) != "iou-wrk-") ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace treecopy_test
