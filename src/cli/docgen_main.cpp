// treecopy_docgen: writes the man page or a completion script (docgen.hpp) into a file; the build
// runs it, so the installed documents are those of the options the binary parses.
// Usage: treecopy_docgen man|bash|zsh|fish OUTPUT
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "docgen.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: treecopy_docgen man|bash|zsh|fish OUTPUT\n");
    return 2;
  }
  const std::string kind = argv[1];
  std::string text;
  if (kind == "man")
    text = treecopy_cli::man_page();
  else if (kind == "bash")
    text = treecopy_cli::bash_completion();
  else if (kind == "zsh")
    text = treecopy_cli::zsh_completion();
  else if (kind == "fish")
    text = treecopy_cli::fish_completion();
  else {
    std::fprintf(stderr, "treecopy_docgen: unknown document '%s'\n", argv[1]);
    return 2;
  }
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "treecopy_docgen: %s: cannot write\n", argv[2]);
    return 1;
  }
  return 0;
}
