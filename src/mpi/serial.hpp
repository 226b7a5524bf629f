// Plain byte buffers for what ranks exchange after the walk (reports, hard-link names): numbers
// in the host's order (every rank of a job runs the same build) and length-prefixed strings.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace treecopy_mpi {

class writer {
 public:
  void u64(std::uint64_t v) { put(&v, sizeof v); }
  void str(std::string_view s) {
    u64(s.size());
    put(s.data(), s.size());
  }
  std::vector<char>& bytes() noexcept { return buf_; }

 private:
  void put(const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    buf_.insert(buf_.end(), c, c + n);
  }
  std::vector<char> buf_;
};

class reader {
 public:
  reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  bool more() const noexcept { return p_ < end_; }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    if (end_ - p_ >= static_cast<std::ptrdiff_t>(sizeof v)) std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  std::string str() {
    const std::uint64_t n = u64();
    const std::size_t left = p_ < end_ ? static_cast<std::size_t>(end_ - p_) : 0;
    std::string s(p_, std::min<std::size_t>(n, left));
    p_ += n;
    return s;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace treecopy_mpi
