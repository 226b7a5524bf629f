// The treecopy library example: copy SRC to DST in parallel, showing progress and errors.
// Build: find_package(treecopy CONFIG REQUIRED) + target_link_libraries(app PRIVATE
// treecopy::treecopy)
#include <iostream>
#include <treecopy/treecopy.hpp>

// on_progress() runs on one sampler thread; on_error() calls never overlap each other.
class console_observer : public treecopy::copy_observer {
 public:
  bool on_progress(const treecopy::progress_snapshot& s) override {
    std::cerr << "\r" << s.entries_done << "/" << s.entries_found << " entries, " << s.bytes_done
              << " bytes" << std::flush;
    return true;  // false would stop the copy
  }
  void on_error(const treecopy::entry_error& e) override {
    std::cerr << "\n" << e.message() << "\n";
  }
};

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " SRC DST\n";
    return 2;
  }
  treecopy::copy_options options;  // defaults: like cp -a, automatic worker count
  options.jobs = 4;
  console_observer observer;
  try {
    treecopy::copy_report report = treecopy::copy_tree(argv[1], argv[2], options, &observer);
    std::cout << "\ncopied " << report.copied.total() << " entries (" << report.bytes_copied
              << " bytes), " << report.error_count << " errors\n";
    return report.ok() ? 0 : 1;
  } catch (const treecopy::setup_error& e) {  // bad input: nothing was created
    std::cerr << "treecopy: " << e.what() << "\n";
    return 2;
  }
}
