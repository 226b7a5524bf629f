// What the process's limits leave to one copy: descriptors (RLIMIT_NOFILE less those already
// open) and threads (RLIMIT_NPROC, RLIMIT_AS), so that a copy sizes itself to fit instead of
// failing or hanging half-way.
#pragma once

#include <cstddef>

namespace treecopy::engine {

/// oneTBB's default worker stack size on 64-bit systems: the copy's own worker threads get the
/// same, and probe threads (startable_threads()) take as much address space.
inline constexpr std::size_t worker_stack_size = std::size_t{4} << 20;

/// The soft RLIMIT_NOFILE, or -1 when there is none.
long descriptor_limit() noexcept;

/// How many descriptors numbered below `below` the process has open now, or -1 when /proc cannot
/// tell. Only those take places under the limit: the kernel gives out the lowest free number.
long open_descriptors(long below) noexcept;

/// How many threads (with oneTBB's worker stack size) the process can start now, at most wanted.
/// Without a small RLIMIT_NPROC (under 16384, for a user other than root) or a finite RLIMIT_AS
/// the answer is wanted; otherwise they are started, counted and stopped again, which tells better
/// than any arithmetic on limits shared with the user's other processes.
unsigned startable_threads(unsigned wanted) noexcept;

/// Whether RLIMIT_AS holds the process to under 1 GiB: memory that a copy could do without
/// (small-file batches' buffers) is left to what it cannot.
bool address_space_small() noexcept;

}  // namespace treecopy::engine
