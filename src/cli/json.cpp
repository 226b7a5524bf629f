// JSON strings and one-line objects: see json.hpp.
#include "json.hpp"

#include <cmath>
#include <cstdio>

#include "treecopy/errors.hpp"

namespace treecopy_cli {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  auto escape_byte = [&](unsigned char b) {
    out += "\\u00";
    out += hex[b >> 4];
    out += hex[b & 15];
  };
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = treecopy::utf8_sequence_length(s, i);
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

std::string json_string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ',';
    append_json_string(out, item);
  }
  return out + "]";
}

std::string base64(std::string_view bytes) {
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

json_object& json_object::str(std::string_view key, std::string_view value) {
  append_json_string(next(key), value);
  return *this;
}

json_object& json_object::path(std::string_view key, std::string_view value) {
  str(key, value);
  if (!treecopy::is_valid_utf8(value)) str(std::string(key) + "_base64", base64(value));
  return *this;
}

json_object& json_object::num(std::string_view key, std::uint64_t value) {
  next(key) += std::to_string(value);
  return *this;
}

json_object& json_object::num(std::string_view key, int value) {
  next(key) += std::to_string(value);
  return *this;
}

json_object& json_object::real(std::string_view key, double value) {
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

json_object& json_object::boolean(std::string_view key, bool value) {
  next(key) += value ? "true" : "false";
  return *this;
}

json_object& json_object::null(std::string_view key) {
  next(key) += "null";
  return *this;
}

json_object& json_object::raw(std::string_view key, std::string_view json) {
  next(key) += json;
  return *this;
}

std::string json_object::done() && {
  text_ += '}';
  return std::move(text_);
}

std::string& json_object::next(std::string_view key) {
  if (text_.size() > 1) text_ += ',';
  append_json_string(text_, key);
  text_ += ':';
  return text_;
}

}  // namespace treecopy_cli
