// copy_options::on_listing: the caller's per-directory hook, applied to a directory's listing
// before the filters.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/context.hpp"
#include "treecopy/options.hpp"

namespace treecopy::engine {

/// Calls hook with node's listing and removes the entries it leaves out (the others keep their
/// order). Returns how many were left out.
std::uint64_t apply_listing_hook(const listing_filter& hook, dir_node& node,
                                 std::string_view rel_dir);

}  // namespace treecopy::engine
