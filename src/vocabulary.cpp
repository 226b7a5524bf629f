// The library's vocabulary for its clients: stable names of enumerations (operations, errc values,
// sides, reflink and symlink modes), parsing them back from strings, and the UTF-8 check. The CLI
// and the Python module use these instead of keeping tables of their own.
#include <cstddef>
#include <iterator>
#include <optional>
#include <string_view>

#include "treecopy/errors.hpp"
#include "treecopy/options.hpp"

namespace treecopy {
namespace {

// The enumerator whose to_id() is id, trying every value from first to last. Lists are short: a
// linear search keeps each name in one place (its to_id()).
template <typename Enum>
std::optional<Enum> parse_by_id(std::string_view id, Enum first, Enum last) noexcept {
  for (int v = static_cast<int>(first); v <= static_cast<int>(last); ++v) {
    const Enum e = static_cast<Enum>(v);
    if (id == to_id(e)) return e;
  }
  return std::nullopt;
}

// Each operation's two names, indexed by its value: the stable id and the verb for messages.
struct operation_names {
  const char* id;
  const char* verb;
};
constexpr operation_names kOperationNames[] = {
    {"open_source", "open"},
    {"stat", "stat"},
    {"read_dir", "read directory"},
    {"read_link", "read link"},
    {"read_xattr", "read attributes of"},
    {"read", "read"},
    {"create", "create"},
    {"remove", "remove"},
    {"write", "write"},
    {"clone", "clone"},
    {"link", "link"},
    {"set_owner", "set owner of"},
    {"set_mode", "set mode of"},
    {"set_times", "set times of"},
    {"set_xattr", "set attributes of"},
    {"close", "close"},
    {"cancelled", "cancelled"},
};
static_assert(std::size(kOperationNames) == static_cast<std::size_t>(operation::cancelled) + 1,
              "one row per operation, in the enumeration's order");

const operation_names* names_of(operation op) noexcept {
  const auto i = static_cast<std::size_t>(op);
  return i < std::size(kOperationNames) ? &kOperationNames[i] : nullptr;
}

}  // namespace

const char* to_string(operation op) noexcept {
  const operation_names* n = names_of(op);
  return n ? n->verb : "?";
}

const char* to_id(operation op) noexcept {
  const operation_names* n = names_of(op);
  return n ? n->id : "other";
}

std::optional<operation> parse_operation(std::string_view id) noexcept {
  return parse_by_id(id, operation::open_source, operation::cancelled);
}

const char* to_id(errc e) noexcept {
  switch (e) {
    case errc::source_changed:
      return "source_changed";
    case errc::directory_cycle:
      return "directory_cycle";
    case errc::into_itself:
      return "into_itself";
    case errc::holds_source:
      return "holds_source";
    case errc::holds_excluded:
      return "holds_excluded";
    case errc::mount_point:
      return "mount_point";
  }
  return "";
}

std::optional<errc> parse_errc(std::string_view id) noexcept {
  if (id.empty()) return std::nullopt;
  return parse_by_id(id, errc::source_changed, errc::mount_point);
}

const char* to_id(entry_side side) noexcept {
  return side == entry_side::destination ? "destination" : "source";
}

const char* to_id(reflink_mode mode) noexcept {
  switch (mode) {
    case reflink_mode::automatic:
      return "auto";
    case reflink_mode::always:
      return "always";
    case reflink_mode::never:
      return "never";
  }
  return "";
}

std::optional<reflink_mode> parse_reflink_mode(std::string_view id) noexcept {
  if (id.empty()) return std::nullopt;
  return parse_by_id(id, reflink_mode::automatic, reflink_mode::never);
}

const char* to_id(symlink_mode mode) noexcept {
  switch (mode) {
    case symlink_mode::never:
      return "never";
    case symlink_mode::command_line:
      return "command_line";
    case symlink_mode::always:
      return "always";
  }
  return "";
}

std::optional<symlink_mode> parse_symlink_mode(std::string_view id) noexcept {
  if (id.empty()) return std::nullopt;
  return parse_by_id(id, symlink_mode::never, symlink_mode::always);
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = at(i);
  if (b < 0x80) return 1;
  const std::size_t n = b >= 0xC2 && b <= 0xDF   ? 2
                        : b >= 0xE0 && b <= 0xEF ? 3
                        : b >= 0xF0 && b <= 0xF4 ? 4
                                                 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  const unsigned char b1 = at(i + 1);
  if (b == 0xE0 && b1 < 0xA0) return 0;  // overlong
  if (b == 0xED && b1 > 0x9F) return 0;  // UTF-16 surrogate
  if (b == 0xF0 && b1 < 0x90) return 0;  // overlong
  if (b == 0xF4 && b1 > 0x8F) return 0;  // beyond U+10FFFF
  return n;
}

bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace treecopy
