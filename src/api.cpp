// The public entry points: copy_tree() and the small helpers declared in the public headers.
#include <algorithm>
#include <iterator>
#include <new>
#include <numeric>
#include <thread>

#include "engine/copier.hpp"
#include "engine/setup.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy {

const char* to_string(operation op) noexcept {
  switch (op) {
    case operation::open_source: return "open";
    case operation::stat: return "stat";
    case operation::read_dir: return "read directory";
    case operation::read_link: return "read link";
    case operation::read_xattr: return "read attributes of";
    case operation::read: return "read";
    case operation::create: return "create";
    case operation::remove: return "remove";
    case operation::write: return "write";
    case operation::clone: return "clone";
    case operation::link: return "link";
    case operation::set_owner: return "set owner of";
    case operation::set_mode: return "set mode of";
    case operation::set_times: return "set times of";
    case operation::set_xattr: return "set attributes of";
    case operation::close: return "close";
    case operation::cancelled: return "cancelled";
  }
  return "?";
}

namespace {

class treecopy_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "treecopy"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::source_changed: return "file changed while it was copied";
    }
    return "unknown treecopy error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const treecopy_category category;
  return category;
}

std::string entry_error::message() const {
  return std::string(to_string(op)) + " '" + path + "': " + code.message();
}

const char* to_string(entry_kind kind) noexcept {
  switch (kind) {
    case entry_kind::file: return "file";
    case entry_kind::directory: return "directory";
    case entry_kind::symlink: return "symlink";
    case entry_kind::hardlink: return "hardlink";
    case entry_kind::fifo: return "fifo";
    case entry_kind::socket: return "socket";
    case entry_kind::char_device: return "char_device";
    case entry_kind::block_device: return "block_device";
  }
  return "?";
}

std::uint64_t entry_counts::total() const noexcept {
  return std::accumulate(std::begin(by_kind), std::end(by_kind), std::uint64_t{0});
}

unsigned default_jobs() noexcept {
  // Copies wait on the disk as much as on the CPU: more workers than cores keep requests in flight.
  // Measured on 2 cores (README, Speed): from a cold cache 8 workers copy small files 1.27x faster
  // than 2 and 1.12x faster than 4, while in memory 8 cost at most 3% against the best count.
  unsigned cores = std::thread::hardware_concurrency();
  if (cores == 0) cores = 2;
  return std::clamp(4 * cores, 8u, 64u);
}

copy_report copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst,
                      const copy_options& options, copy_observer* observer, std::stop_token stop) {
  try {
    engine::setup_result setup = engine::prepare(src, dst, options);
    try {
      engine::copier c(setup, options, observer, std::move(stop));
      return c.run();
    } catch (const plan::filter_error& e) {
      throw setup_error({}, std::make_error_code(std::errc::invalid_argument), e.what());
    }
  } catch (const std::bad_alloc&) {
    // Before the copy starts (run() reports its own): nothing was created.
    throw setup_error(dst.string(), std::make_error_code(std::errc::not_enough_memory),
                      "out of memory while preparing the copy");
  }
}

const char* version() noexcept { return TREECOPY_VERSION; }

}  // namespace treecopy
