// JSON output for the CLI: string escaping that survives any file name (newlines, quotes, bytes
// that are not UTF-8) and a small builder for one-line JSON objects (NDJSON events, the summary).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace treecopy_cli {

/// Appends s as a quoted JSON string. Well-formed UTF-8 is copied as is, except that control
/// characters (C0, DEL, C1), U+2028 and U+2029 are escaped (line splitters such as Python's
/// str.splitlines() and JavaScript treat some of them as line ends), as are '"' and '\\'; each byte
/// that is not part of well-formed UTF-8 becomes \u00XX with the byte's value (so it reads as the
/// Latin-1 character of that byte). That last step is lossy, which is why json_object::path() adds
/// the exact bytes in base64 beside such a string.
void append_json_string(std::string& out, std::string_view s);

/// A JSON array of strings, each as append_json_string() writes it.
std::string json_string_array(const std::vector<std::string>& items);

/// Standard base64 (RFC 4648, with padding) of arbitrary bytes.
std::string base64(std::string_view bytes);

/// Builds one JSON object, member by member, on one line: json_object().num("a", 1).str("b", "x").
class json_object {
 public:
  json_object() : text_("{") {}

  json_object& str(std::string_view key, std::string_view value);
  /// A file name: as str(), plus "<key>_base64" with the exact bytes when they are not UTF-8.
  json_object& path(std::string_view key, std::string_view value);
  json_object& num(std::string_view key, std::uint64_t value);
  json_object& num(std::string_view key, int value);
  /// A real number with millisecond-ish precision; NaN and infinities become null.
  json_object& real(std::string_view key, double value);
  json_object& boolean(std::string_view key, bool value);
  json_object& null(std::string_view key);
  /// A value that is already JSON text (a nested object or array).
  json_object& raw(std::string_view key, std::string_view json);
  /// The finished object, without a newline.
  std::string done() &&;

 private:
  std::string& next(std::string_view key);

  std::string text_;
};

}  // namespace treecopy_cli
