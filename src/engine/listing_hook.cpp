// copy_options::on_listing applied to one directory's listing (see listing_hook.hpp).
#include "engine/listing_hook.hpp"

#include <span>
#include <vector>

namespace treecopy::engine {

std::uint64_t apply_listing_hook(const listing_filter& hook, dir_node& node,
                                 std::string_view rel_dir) {
  auto& ents = node.entries;
  std::vector<listed_entry> listed;
  listed.reserve(ents.size());
  for (const fs::dir_entry& e : ents)
    listed.push_back({node.names.c_str() + e.name_offset, e.type});
  std::vector<bool> leave_out(ents.size(), false);
  hook(rel_dir, node.src_fd, std::span<const listed_entry>(listed), leave_out);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < ents.size(); ++i)
    if (!leave_out[i]) ents[kept++] = ents[i];
  const std::uint64_t dropped = ents.size() - kept;
  ents.resize(kept);
  return dropped;
}

}  // namespace treecopy::engine
