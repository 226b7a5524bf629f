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

namespace {

class treecopy_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "treecopy"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::source_changed:
        return "file changed while it was copied";
      case errc::directory_cycle:
        return "directory cycle (already being copied as an ancestor)";
      case errc::into_itself:
        return "cannot copy a directory into itself";
      case errc::holds_source:
        return "holds the source directory: left alone";
      case errc::holds_excluded:
        return "directory not empty: it holds excluded entries, kept";
      case errc::mount_point:
        return "a mount point (another file system): left alone";
    }
    return "unknown treecopy error " + std::to_string(value);
  }
};

// Whether the n bytes at s[i] (one UTF-8 sequence, or one stray byte when n is 0) must be escaped:
// they would end the line, move the cursor, or not read back as the same bytes.
bool must_escape(std::string_view s, std::size_t i, std::size_t n) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (n == 0) return true;
  if (n == 1) return b < 0x20 || b == 0x7F;
  if (n == 2) return b == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F;  // C1 controls
  return n == 3 && b == 0xE2 && s[i + 1] == '\x80' && (s[i + 2] == '\xA8' || s[i + 2] == '\xA9');
}

// One byte inside $'...', as bash reads it back.
void append_escaped(std::string& out, unsigned char b) {
  static constexpr char letters[] = "abtnvfr";  // \a (7) to \r (13)
  out += '\\';
  if (b >= 7 && b <= 13) {
    out += letters[b - 7];
  } else {
    out += static_cast<char>('0' + (b >> 6));
    out += static_cast<char>('0' + ((b >> 3) & 7));
    out += static_cast<char>('0' + (b & 7));
  }
}

}  // namespace

// A state machine over three places the output can be in: inside '...', inside $'...', or between
// quotes (just after \'). It starts inside '...', as coreutils does, so that every quoted path
// starts with a quote.
std::string quote(std::string_view path) {
  enum class at { quoted, escaped, bare } state = at::quoted;
  std::string out = "'";
  out.reserve(path.size() + 2);
  for (std::size_t i = 0; i < path.size();) {
    const std::size_t n = utf8_sequence_length(path, i);
    if (must_escape(path, i, n)) {
      if (state != at::escaped) out += state == at::quoted ? "'$'" : "$'";
      state = at::escaped;
      for (std::size_t k = 0; k < std::max<std::size_t>(n, 1); ++k)
        append_escaped(out, static_cast<unsigned char>(path[i + k]));
      i += std::max<std::size_t>(n, 1);
    } else if (path[i] == '\'') {
      out += state == at::bare ? "\\'" : "'\\'";
      state = at::bare;
      ++i;
    } else {
      if (state == at::escaped)
        out += "''";
      else if (state == at::bare)
        out += '\'';
      state = at::quoted;
      out.append(path.substr(i, n));
      i += n;
    }
  }
  if (state != at::bare) out += '\'';
  return out;
}

const std::error_category& error_category() noexcept {
  static const treecopy_category category;
  return category;
}

std::string entry_error::message() const {
  const std::string where =
      path.empty() ? "an entry (its path is lost: out of memory)" : quote(path);
  return std::string(to_string(op)) + " " + where + ": " + code.message();
}

const char* to_string(entry_kind kind) noexcept {
  switch (kind) {
    case entry_kind::file:
      return "file";
    case entry_kind::directory:
      return "directory";
    case entry_kind::symlink:
      return "symlink";
    case entry_kind::hardlink:
      return "hardlink";
    case entry_kind::fifo:
      return "fifo";
    case entry_kind::socket:
      return "socket";
    case entry_kind::char_device:
      return "char_device";
    case entry_kind::block_device:
      return "block_device";
  }
  return "?";
}

std::uint64_t entry_counts::total() const noexcept {
  return std::accumulate(std::begin(by_kind), std::end(by_kind), std::uint64_t{0});
}

unsigned default_jobs() noexcept {
  // Copies wait on the disk as much as on the CPU: more workers than cores keep requests in flight.
  // Measured on 2 cores (docs/benchmarks.md, "Workers and the default count"): from a cold cache 8
  // workers copy small files 2.0x faster than 2, while in memory 8 stay within 5% of the best count
  // on small files and source trees.
  unsigned cores = std::thread::hardware_concurrency();
  if (cores == 0) cores = 2;
  return std::clamp(4 * cores, 8u, 64u);
}

unsigned jobs_for(std::span<const copy_pair> pairs, const copy_options& options) noexcept {
  return engine::jobs_for(pairs, options);
}

copy_report copy_trees(std::span<const copy_pair> pairs, const copy_options& options,
                       copy_observer* observer, std::stop_token stop) {
  try {
    std::vector<entry_error> refused;
    std::vector<engine::setup_result> setups = engine::prepare_pairs(pairs, options, refused);
    try {
      return engine::run_pairs(setups, refused, options, observer, std::move(stop));
    } catch (const plan::filter_error& e) {
      throw setup_error({}, std::make_error_code(std::errc::invalid_argument), e.what());
    }
  } catch (const std::bad_alloc&) {
    // Before the copy starts (run_pairs() reports its own): nothing was created.
    throw setup_error(pairs.empty() ? std::string() : pairs.back().dst.string(),
                      std::make_error_code(std::errc::not_enough_memory),
                      "out of memory while preparing the copy");
  }
}

copy_report copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst,
                      const copy_options& options, copy_observer* observer, std::stop_token stop) {
  const copy_pair pair{src, dst};
  return copy_trees(std::span<const copy_pair>(&pair, 1), options, observer, std::move(stop));
}

const char* version() noexcept { return TREECOPY_VERSION; }

}  // namespace treecopy
