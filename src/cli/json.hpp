// JSON output for the CLI: string escaping that survives any file name (newlines, quotes, bytes
// that are not UTF-8) and a small builder for one-line JSON objects (NDJSON events, the summary).
// Header-only: the CLI is built as a single translation unit.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace treecopy_cli {

/// Length of the well-formed UTF-8 sequence starting at s[i] (1 to 4), or 0 if the byte there
/// does not start one (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, cut
/// short).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = at(i);
  if (b < 0x80) return 1;
  std::size_t n = b >= 0xC2 && b <= 0xDF   ? 2
                  : b >= 0xE0 && b <= 0xEF ? 3
                  : b >= 0xF0 && b <= 0xF4 ? 4
                                           : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  unsigned char b1 = at(i + 1);
  if (b == 0xE0 && b1 < 0xA0) return 0;  // overlong
  if (b == 0xED && b1 > 0x9F) return 0;  // UTF-16 surrogate
  if (b == 0xF0 && b1 < 0x90) return 0;  // overlong
  if (b == 0xF4 && b1 > 0x8F) return 0;  // beyond U+10FFFF
  return n;
}

/// True when s is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/// Appends s as a quoted JSON string. Well-formed UTF-8 is copied as is, except that control
/// characters (C0, DEL, C1), U+2028 and U+2029 are escaped (line splitters such as Python's
/// str.splitlines() and JavaScript treat some of them as line ends), as are '"' and '\\'; each byte
/// that is not part of well-formed UTF-8 becomes \u00XX with the byte's value (so it reads as the
/// Latin-1 character of that byte). That last step is lossy, which is why json_object::path() adds
/// the exact bytes in base64 beside such a string.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  auto escape_byte = [&](unsigned char b) {
    out += "\\u00";
    out += hex[b >> 4];
    out += hex[b & 15];
  };
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      escape_byte(b);
      ++i;
      continue;
    }
    auto next = static_cast<unsigned char>(n > 1 ? s[i + 1] : 0);
    if (n == 2 && b == 0xC2 && next <= 0x9F) {  // U+0080..U+009F
      escape_byte(next);
    } else if (n == 3 && b == 0xE2 && next == 0x80 && (s[i + 2] == '\xA8' || s[i + 2] == '\xA9')) {
      out += s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
    } else if (n > 1) {
      out.append(s.substr(i, n));
    } else if (b == '"' || b == '\\') {
      (out += '\\') += static_cast<char>(b);
    } else if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (b == '\r') {
      out += "\\r";
    } else if (b < 0x20 || b == 0x7F) {
      escape_byte(b);
    } else {
      out += static_cast<char>(b);
    }
    i += n;
  }
  out += '"';
}

/// Standard base64 (RFC 4648, with padding) of arbitrary bytes.
inline std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

/// Builds one JSON object, member by member, on one line: json_object().num("a", 1).str("b", "x").
class json_object {
 public:
  json_object() : text_("{") {}

  json_object& str(std::string_view key, std::string_view value) {
    append_json_string(next(key), value);
    return *this;
  }
  /// A file name: as str(), plus "<key>_base64" with the exact bytes when they are not UTF-8.
  json_object& path(std::string_view key, std::string_view value) {
    str(key, value);
    if (!is_valid_utf8(value)) str(std::string(key) + "_base64", base64(value));
    return *this;
  }
  json_object& num(std::string_view key, std::uint64_t value) {
    next(key) += std::to_string(value);
    return *this;
  }
  json_object& num(std::string_view key, int value) {
    next(key) += std::to_string(value);
    return *this;
  }
  /// A real number with millisecond-ish precision; NaN and infinities become null.
  json_object& real(std::string_view key, double value) {
    std::string& out = next(key);
    if (!std::isfinite(value)) {
      out += "null";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f", value);
      out += buf;
    }
    return *this;
  }
  json_object& boolean(std::string_view key, bool value) {
    next(key) += value ? "true" : "false";
    return *this;
  }
  json_object& null(std::string_view key) {
    next(key) += "null";
    return *this;
  }
  /// A value that is already JSON text (a nested object or array).
  json_object& raw(std::string_view key, std::string_view json) {
    next(key) += json;
    return *this;
  }
  /// The finished object, without a newline.
  std::string done() && {
    text_ += '}';
    return std::move(text_);
  }

 private:
  std::string& next(std::string_view key) {
    if (text_.size() > 1) text_ += ',';
    append_json_string(text_, key);
    text_ += ':';
    return text_;
  }

  std::string text_;
};

}  // namespace treecopy_cli
