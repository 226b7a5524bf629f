// Helpers of the CLI unit tests: a pipe whose read end collects what a view wrote to its write end.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace treecopy_test {

/// A pipe standing for a descriptor the CLI writes to (stderr, the progress file, stdout).
class captured_output {
 public:
  captured_output() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2 failed";
  }
  ~captured_output() {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  captured_output(const captured_output&) = delete;
  captured_output& operator=(const captured_output&) = delete;

  /// The descriptor to hand to the code under test.
  int fd() const { return fds_[1]; }

  /// Everything written so far (the pipe is drained; small outputs only: 64 KiB of pipe buffer).
  std::string take() {
    std::string out;
    int flags = ::fcntl(fds_[0], F_GETFL);
    ::fcntl(fds_[0], F_SETFL, flags | O_NONBLOCK);
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::fcntl(fds_[0], F_SETFL, flags);
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace treecopy_test
