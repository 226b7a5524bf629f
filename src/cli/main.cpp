// The treecopy command (src/cli/entry.hpp): parses the command line and runs the copy. One client
// of the library, with no special access.
#include "entry.hpp"

int main(int argc, char** argv) { return treecopy_cli::cli_main(argc, argv); }
