// The command line: options, their help, and the rules between them (see options.hpp).
#include "options.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "build_info.hpp"
#include "forms.hpp"
#include "summary.hpp"

namespace treecopy_cli {
namespace {

const doc_item examples[] = {
    {"treecopy src/ dst/", "copy the tree src to dst (dst must not exist)"},
    {"treecopy -j 16 /mnt/nfs/src dst", "more workers for slow or remote storage"},
    {"treecopy --merge src dst", "copy into an existing dst, replacing files"},
    {"treecopy --update --delete --exclude .git/ --exclude '*.o' src dst",
     "make dst a mirror of src again, copying only what changed"},
    {"treecopy --dry-run -v src dst", "list what would be copied, change nothing"},
    {"treecopy --progress=json --progress-file events.ndjson --json src dst > summary.json",
     "progress events to a file, the summary as JSON on stdout"},
};

const doc_item exit_codes[] = {
    {"0", "every entry was copied"},
    {"1",
     "some entries failed (each is reported on stderr); the rest was copied; or output was lost\n"
     "(a failed write of -v lines, progress events or the summary)"},
    {"2",
     "bad usage or bad input (missing source, destination inside source, ...): nothing was "
     "touched"},
    {"130", "stopped by SIGINT (Ctrl-C)"},
    {"143", "stopped by SIGTERM"},
};

const char* const progress_text =
    R"(Progress (--progress): bar (a live line; the default on a terminal), lines (a plain line every
--progress-interval seconds, default 5: the default when stderr is not a terminal), json (NDJSON
events on stderr or --progress-file, one per second by default), none. Ctrl-C or SIGTERM stops
cleanly (files being written are removed) and prints the summary; a second one quits at once.)";

const value_set value_set_table[] = {
    {"--reflink", {"auto", "always", "never"}},
    {"--progress", {"auto", "bar", "lines", "json", "none"}},
};

std::vector<std::string> values_of(std::string_view option) {
  for (const value_set& v : value_set_table)
    if (v.option == option) return {v.values.begin(), v.values.end()};
  return {};
}

// term then text, the text starting at column indent (on the next line when the term is longer),
// its continuation lines indented alike.
void add_item(std::string& out, const doc_item& item, std::size_t indent) {
  out += "  ";
  out += item.term;
  if (item.term.size() + 3 > indent) {
    out += '\n';
    out.append(indent, ' ');
  } else {
    out.append(indent - 2 - item.term.size(), ' ');
  }
  for (char c : item.text) {
    out += c;
    if (c == '\n') out.append(indent, ' ');
  }
  out += '\n';
}

std::string help_footer() {
  std::string out = "Examples:\n";
  for (const doc_item& e : examples) add_item(out, e, 34);
  out += '\n';
  out += progress_text;
  out += "\n\nExit codes:\n";
  for (const doc_item& e : exit_codes) add_item(out, e, 7);
  out.pop_back();
  return out;
}

}  // namespace

// CLI11's messages repeat the arguments as given: control characters in them become escapes.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

// Reads --exclude-from FILE: one pattern a line; blank lines and lines starting with '#' skipped.
// A file that cannot be read to its end (a directory, an I/O error) is bad input, not "no rules":
// copying what the rules were meant to leave out cannot be undone.
bool read_pattern_file(const std::string& path, std::vector<treecopy::filter_rule>& rules) {
  return read_records(path, "--exclude-from", '\n', [&](std::string p) {
    while (!p.empty() && p.back() == '\r') p.pop_back();
    if (p.empty() || p[0] == '#') return;
    rules.push_back({false, std::move(p)});
  });
}

// Filter rules in command-line order: --include and --exclude interleave, and the first rule that
// matches decides, so their relative order matters.
bool collect_filters(const CLI::App& app, cli_args& a) {
  std::size_t ex = 0, in = 0, from = 0;
  for (const CLI::Option* o : app.parse_order()) {
    const std::string name = o->get_name();
    if (name == "--exclude" && ex < a.excludes.size()) {
      a.options.filters.push_back({false, a.excludes[ex++]});
    } else if (name == "--include" && in < a.includes.size()) {
      a.options.filters.push_back({true, a.includes[in++]});
    } else if (name == "--exclude-from" && from < a.exclude_files.size()) {
      if (!read_pattern_file(a.exclude_files[from++], a.options.filters)) return false;
    }
  }
  return true;
}

void add_sync_options(CLI::App& app, cli_args& a) {
  app.add_flag("--update", a.options.update,
               "DST may exist: do not copy again the data of entries whose copy has the same type, "
               "size and mtime (their metadata is still made equal); copy the rest again (implies "
               "--merge)");
  app.add_flag("--checksum", a.options.checksum,
               "With --update: compare file contents instead of size and mtime");
  app.add_option_function<unsigned>(
         "--modify-window",
         [&a](unsigned seconds) { a.options.modify_window = std::chrono::seconds(seconds); },
         "With --update: mtimes at most this many seconds apart count as equal")
      ->type_name("SECONDS");
  app.add_flag("--delete", a.options.delete_extraneous,
               "With --update or --merge: remove entries of DST that SRC does not have");
  app.add_option("--exclude", a.excludes, "Do not copy entries matching this glob (repeatable)")
      ->type_name("PATTERN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--include", a.includes,
                 "Copy entries matching this glob even if a later --exclude matches (repeatable)")
      ->type_name("PATTERN")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--exclude-from", a.exclude_files, "Read exclude patterns from FILE, one a line")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_flag("--gitignore", a.options.gitignore,
               "Leave out what git ignores (.gitignore, .git/info/exclude, core.excludesFile), "
               "after --exclude/--include");
  app.add_flag("-L,--dereference", a.dereference, "Copy what symlinks point to, not the links");
  app.add_flag("-H", a.follow_src, "Follow SRC if it is a symlink, no other links");
  app.add_flag("-x,--one-file-system", a.options.one_file_system,
               "Do not descend into directories on other file systems");
}

// ---- cp's forms: -t, -T ------------------------------------------------------------------------

void add_form_options(CLI::App& app, cli_args& a) {
  app.add_option("-t,--target-directory", a.target_dir,
                 "Copy every SRC into DIR under its own name (treecopy -t DIR SRC...)")
      ->type_name("DIR");
  app.add_flag("-T,--no-target-directory", a.no_target_dir,
               "DST is the copy, never a directory to copy into (exactly two paths)");
  app.add_option("--files-from", a.files_from,
                 "Copy only the paths listed in FILE ('-': stdin), relative to SRC, one a line, "
                 "with the directories that lead to them; a listed directory is copied whole")
      ->type_name("FILE");
  app.add_flag("-0,--from0", a.from0, "With --files-from: paths end with NUL, not newline");
  app.add_flag("-l,--link", a.options.link,
               "Hard-link files to the source files instead of copying them (cp -l)");
  app.add_option("--link-dest", a.options.link_dest,
                 "Hard-link files that are unchanged in PREV (a previous copy of DST, or of DIR), "
                 "copy the rest; PREV is never written (repeatable, tried in order)")
      ->type_name("PREV")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
}

// The pairs of the operands (forms.hpp); SRC and DST name the first source and DIR for what
// tells of the run as a whole (progress, summary).
bool resolve_forms(cli_args& a) {
  form_args f;
  f.paths = a.operands;
  if (!a.last_operand.empty()) f.paths.push_back(a.last_operand);
  f.target_dir = a.target_dir;
  f.no_target_dir = a.no_target_dir;
  f.merging = a.options.merge || a.options.update || a.options.checksum;
  std::optional<std::vector<treecopy::copy_pair>> pairs = pairs_of(f, a.into_dir);
  if (!pairs) return false;
  if (a.from0 && a.files_from.empty())
    return std::fprintf(stderr, "treecopy: -0/--from0 needs --files-from\n"), false;
  if (!a.files_from.empty() && !read_files_from(a.files_from, a.from0, a.options.files_from))
    return false;
  a.pairs = std::move(*pairs);
  // --link-dest PREV is a previous DIR in the forms that copy into DIR: one pair links against
  // PREV/<its name> (several pairs do so in the library already).
  if (!a.into_dir.empty() && a.pairs.size() == 1)
    for (std::string& prev : a.options.link_dest)
      prev = (prev.back() == '/' ? prev : prev + "/") + a.pairs.front().dst.filename().string();
  a.src = a.pairs.front().src.string();
  a.dst = a.into_dir.empty() ? a.pairs.front().dst.string() : a.into_dir;
  return true;
}

// ---- --preserve, --no-preserve --------------------------------------------------------------

const char* const preserve_words = "mode, ownership, timestamps, links, xattr, all";

void add_preserve_options(CLI::App& app, cli_args& a) {
  app.add_option("--preserve", a.preserve,
                 "Preserve only these attributes (comma-separated): mode, ownership, timestamps, "
                 "links, xattr (with ACLs), all (the default)")
      ->type_name("LIST")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--no-preserve", a.no_preserve,
                 "Do not preserve these attributes (same words; applied after --preserve)")
      ->type_name("LIST")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
}

// Sets (on) or clears one word's attributes; false for a word that names none.
bool set_preserved(treecopy::copy_options& o, std::string_view word, bool on) {
  const bool all = word == "all";
  if (!all && word != "mode" && word != "ownership" && word != "timestamps" && word != "links" &&
      word != "xattr")
    return false;
  if (all || word == "mode") {
    o.preserve_mode = on;
    o.default_modes = !on;  // as cp: only a mode dropped by name gets 0666/0777, not SRC's bits
  }
  if (all || word == "ownership") o.preserve_ownership = on;
  if (all || word == "timestamps") o.preserve_timestamps = on;
  if (all || word == "links") o.preserve_links = on;
  if (all || word == "xattr") o.preserve_xattrs = on;
  return true;
}

// Everything is preserved by default (cp -a); --preserve=LIST keeps exactly LIST, then
// --no-preserve=LIST drops its words. A word of neither set is bad usage, as cp's "invalid
// argument".
bool apply_preserve(cli_args& a) {
  if (!a.preserve.empty()) {
    (void)set_preserved(a.options, "all", false);
    a.options.default_modes = false;  // modes not in LIST: SRC's bits less the umask, as cp -R
  }
  for (int pass = 0; pass < 2; ++pass) {
    const bool on = pass == 0;
    for (const std::string& w : on ? a.preserve : a.no_preserve) {
      if (set_preserved(a.options, w, on)) continue;
      std::fprintf(stderr, "treecopy: invalid argument %s for %s (valid: %s)\n",
                   treecopy::quote(w).c_str(), on ? "--preserve" : "--no-preserve", preserve_words);
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const doc_item> exit_code_docs() { return exit_codes; }
std::span<const doc_item> example_docs() { return examples; }
std::string_view progress_doc() { return progress_text; }
std::span<const value_set> value_sets() { return value_set_table; }

std::unique_ptr<CLI::App> make_app(cli_args& a, unsigned machine_jobs) {
  auto owner = std::make_unique<CLI::App>(
      "treecopy: copy a directory tree in parallel, as faithfully as cp -a", "treecopy");
  CLI::App& app = *owner;
  app.footer(help_footer());
  app.set_version_flag("--version", version_text());
  app.add_option("SRC", a.operands,
                 "Source: a directory, file, symlink or special file (several: each is copied "
                 "into DIR, the last path, under its own name)")
      ->required();
  app.add_option("DST", a.last_operand,
                 "Destination (the copy; its parent must exist), or DIR to copy into (several "
                 "sources, -t, or an existing DIR written with a trailing '/')");
  add_form_options(app, a);
  std::string jobs_help =
      "Concurrent workers (default: 4 x cores, 8 to 64; one per core between tmpfs mounts";
  if (machine_jobs) jobs_help += "; this machine: " + std::to_string(machine_jobs);
  app.add_option("-j,--jobs", a.jobs, jobs_help + ")")->check(CLI::Range(1u, 1024u));
  app.add_flag("--merge", a.options.merge, "DST may exist: copy into it, replacing files");
  app.add_option("--reflink", a.reflink, "Share data blocks (FICLONE): auto, always or never")
      ->check(CLI::IsMember(values_of("--reflink")))
      ->capture_default_str();
  app.add_flag("--fail-fast", a.options.fail_fast, "Stop at the first entry that fails");
  app.add_flag(
      "--dry-run", a.options.dry_run,
      "Walk SRC and report what would be copied and the problems foreseen; change nothing");
  app.add_flag("-q,--quiet", a.quiet,
               "Print errors only (and no progress unless --progress is given)");
  app.add_flag("-v,--verbose", a.verbose,
               "Print each entry created (with --dry-run: that would be)");
  app.add_option("--progress", a.progress, "Progress view: auto, bar, lines, json or none")
      ->check(CLI::IsMember(values_of("--progress")))
      ->capture_default_str();
  app.add_option("--progress-interval", a.progress_interval,
                 "Seconds between progress lines or events (default: lines 5, json 1; bar 0.1)")
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--progress-file", a.progress_file,
                 "Write the JSON progress events to this file instead of stderr (implies "
                 "--progress=json)")
      ->type_name("FILE");
  app.add_flag("--json", a.json, "Print the summary as one JSON object on stdout");
  add_sync_options(app, a);
  add_preserve_options(app, a);
  return owner;
}

namespace {

// True when argv holds operands only (at least one; none empty or starting with '-'): the command
// line of a build tool that runs `treecopy SRC DST` thousands of times. Building CLI11's table of
// options costs more than half of such a run's instructions (each option added is compared with
// every earlier one), so these are parsed without it, into what CLI11 makes of them: every
// operand in a.operands, in order (forms.cpp reads operands then last_operand), all else default.
bool operands_only(int argc, char** argv) {
  if (argc < 2) return false;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '\0' || argv[i][0] == '-') return false;
  }
  return true;
}

// What follows the parse, with or without CLI11 (app: null when there were operands only).
std::optional<int> finish_parse(cli_args& a, const CLI::App* app) {
  const bool progress_given = app && app->count("--progress") > 0;
  if (!a.progress_file.empty()) {
    if (progress_given && a.progress != "json") {
      std::fprintf(stderr, "treecopy: --progress-file needs --progress=json\n");
      return exit_usage;
    }
    a.progress = "json";
  } else if (!progress_given && a.quiet) {
    a.progress = "none";
  }
  if (a.quiet) a.verbose = false;
  if (app && !collect_filters(*app, a)) return exit_usage;
  if (!apply_preserve(a)) return exit_usage;
  if (!resolve_forms(a)) return exit_usage;
  a.options.dereference = a.dereference  ? treecopy::symlink_mode::always
                          : a.follow_src ? treecopy::symlink_mode::command_line
                                         : treecopy::symlink_mode::never;
  a.options.jobs = a.jobs;
  // CLI11 has checked the spelling already.
  a.options.reflink =
      treecopy::parse_reflink_mode(a.reflink).value_or(treecopy::reflink_mode::automatic);
  return std::nullopt;
}

}  // namespace

std::optional<int> parse(int argc, char** argv, cli_args& a) {
  if (operands_only(argc, argv)) {
    a.operands.assign(argv + 1, argv + argc);
    return finish_parse(a, nullptr);
  }
  std::unique_ptr<CLI::App> owner = make_app(a, treecopy::default_jobs());
  CLI::App& app = *owner;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "treecopy: %s (see 'treecopy --help')\n", one_line(e.what()).c_str());
    return exit_usage;
  }
  return finish_parse(a, &app);
}

}  // namespace treecopy_cli
