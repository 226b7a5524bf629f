// The man page and the shell completions, made from the command line's App: see docgen.hpp.
#include "docgen.hpp"

#include <CLI/CLI.hpp>
#include <string_view>

#include "options.hpp"
#include "treecopy/treecopy.hpp"

namespace treecopy_cli {
namespace {

// The type name without what validators add to it ("UINT:INT in [1 - 1024]" is "UINT").
std::string bare_type_name(const CLI::Option& o) {
  std::string t = o.get_type_name();
  return t.substr(0, t.find(':'));
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The help text up to its first parenthesis: completion menus show one short phrase.
std::string short_help(const option_doc& o) {
  std::string h = o.help.substr(0, o.help.find(" ("));
  return h.substr(0, h.find(';'));
}

// ---- roff ---------------------------------------------------------------------------------------

// Text for a roff line: backslashes and hyphens escaped (a plain '-' may print as a hyphen
// that breaks lines or does not paste as an option), a leading '.' or '\'' kept from being a
// request.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string bold(std::string_view text) { return "\\fB" + roff(text) + "\\fR"; }
std::string italic(std::string_view text) { return "\\fI" + roff(text) + "\\fR"; }

// The tag of an option in OPTIONS: "-j, --jobs=UINT", "--reflink=auto|always|never".
std::string man_tag(const option_doc& o) {
  std::string tag;
  for (const std::string& name : o.names) tag += (tag.empty() ? "" : ", ") + bold(name);
  if (!o.values.empty()) {
    tag += "=";
    for (std::size_t i = 0; i < o.values.size(); ++i) tag += (i ? "|" : "") + italic(o.values[i]);
  } else if (!o.value_name.empty()) {
    tag += "=" + italic(o.value_name);
  }
  return tag;
}

const char* const man_description =
    R"(treecopy makes DST a copy of SRC, as faithfully as cp -a: file data, directories, symlinks
(copied as links), hard links, special files, owners, permissions, times, ACLs and extended
attributes. Directories are walked and files copied by many workers at once, which pays on NVMe,
RAID and network storage. One entry that fails does not stop the others: each failure is reported
and the exit code says that some failed. DST must not exist unless --merge or --update is given;
its parent must exist. With several sources, -t DIR, or an existing directory written DIR/ (without
--merge or --update), each SRC is copied into DIR under its own name, all on one pool of workers.)";

// ---- shell quoting ------------------------------------------------------------------------------

// A single-quoted word for sh, zsh and fish (fish escapes inside quotes; sh closes and reopens).
std::string sh_quote(std::string_view text) {
  return "'" + replace_all(std::string(text), "'", "'\\''") + "'";
}
std::string fish_quote(std::string_view text) {
  return "'" + replace_all(replace_all(std::string(text), "\\", "\\\\"), "'", "\\'") + "'";
}

std::string joined(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : std::string(separator)) + w;
  return out;
}

// The zsh _arguments spec of one option: '(-q --quiet)'{-q,--quiet}'[Print errors only]'.
std::string zsh_spec(const option_doc& o) {
  std::string help = replace_all(replace_all(short_help(o), "[", "("), "]", ")");
  help = replace_all(help, ":", ",");
  std::string action;
  if (!o.value_name.empty()) {
    // The message zsh shows above the values: the option's name for a fixed set ("TEXT" says
    // nothing), else the kind of value.
    action = ":" + (o.values.empty() ? o.value_name : o.names.back().substr(2)) + ":";
    if (!o.values.empty())
      action += "(" + joined(o.values, " ") + ")";
    else if (o.takes_file)
      action += "_files";
    else
      action += " ";
  }
  std::vector<std::string> forms;
  for (const std::string& name : o.names) {
    std::string form = name;
    if (!o.value_name.empty()) form += name.size() == 2 ? "+" : "=";
    forms.push_back(form);
  }
  const std::string tail = sh_quote("[" + help + "]" + action);
  const std::string star = o.repeatable ? "'*'" : "";
  if (forms.size() == 1) return star + sh_quote(forms[0]) + tail;
  return (o.repeatable ? "'*'" : sh_quote("(" + joined(o.names, " ") + ")")) + "{" +
         joined(forms, ",") + "}" + tail;
}

}  // namespace

std::vector<option_doc> option_docs() {
  cli_args args;
  std::unique_ptr<CLI::App> app = make_app(args, 0);
  std::vector<option_doc> docs;
  for (const CLI::Option* o : app->get_options()) {
    option_doc d;
    d.operand = !o->nonpositional();
    if (d.operand) {
      d.names.push_back(o->get_name());
    } else {
      for (const std::string& s : o->get_snames()) d.names.push_back("-" + s);
      for (const std::string& l : o->get_lnames()) d.names.push_back("--" + l);
    }
    if (!d.operand && o->get_type_size_max() > 0) d.value_name = bare_type_name(*o);
    for (const value_set& set : value_sets())
      for (const std::string& name : d.names)
        if (name == set.option) d.values.assign(set.values.begin(), set.values.end());
    d.default_value = o->get_default_str();
    d.help = o->get_description();
    d.repeatable = o->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
    d.takes_file = d.value_name == "FILE";
    docs.push_back(std::move(d));
  }
  return docs;
}

std::string man_page() {
  const std::vector<option_doc> docs = option_docs();
  std::string m;
  m += ".\\\" The treecopy man page. Generated from the command line's options and the texts of\n";
  m += ".\\\" --help (src/cli/options.cpp, src/cli/docgen.cpp): edit those, not this file.\n";
  m += std::string(".TH TREECOPY 1 \"\" \"treecopy ") + treecopy::version() +
       "\" \"User Commands\"\n";
  m += ".nh\n";  // no hyphenation: an option split across two lines cannot be searched for
  m += ".SH NAME\ntreecopy \\- copy a directory tree in parallel, as faithfully as cp \\-a\n";
  m += ".SH SYNOPSIS\n.B treecopy\n[\\fIOPTIONS\\fR] \\fISRC\\fR \\fIDST\\fR\n.br\n.B treecopy\n"
       "[\\fIOPTIONS\\fR] \\fISRC\\fR... \\fIDIR\\fR\n.br\n.B treecopy\n"
       "[\\fIOPTIONS\\fR] \\-t \\fIDIR\\fR \\fISRC\\fR...\n";
  m += ".SH DESCRIPTION\n" + roff(man_description) + "\n";
  m += ".SH OPERANDS\n";
  for (const option_doc& o : docs)
    if (o.operand) m += ".TP\n" + italic(o.names[0]) + "\n" + roff(o.help) + "\n";
  m += ".SH OPTIONS\n";
  for (const option_doc& o : docs) {
    if (o.operand) continue;
    m += ".TP\n" + man_tag(o) + "\n" + roff(o.help);
    if (!o.default_value.empty()) m += " (default: " + roff(o.default_value) + ")";
    m += "\n";
  }
  m += ".SH PROGRESS\n" + roff(progress_doc()) + "\n";
  m += ".SH EXIT STATUS\n";
  for (const doc_item& e : exit_code_docs())
    m += ".TP\n" + bold(e.term) + "\n" + roff(e.text) + "\n";
  m += ".SH EXAMPLES\n";
  for (const doc_item& e : example_docs()) m += ".TP\n" + bold(e.term) + "\n" + roff(e.text) + "\n";
  m += ".SH SEE ALSO\n.BR cp (1),\n.BR rsync (1)\n";
  return m;
}

std::string bash_completion() {
  const std::vector<option_doc> docs = option_docs();
  std::vector<std::string> all;
  std::string cases;
  for (const option_doc& o : docs) {
    if (o.operand) continue;
    all.insert(all.end(), o.names.begin(), o.names.end());
    if (o.value_name.empty()) continue;
    std::string reply = "-W ''";  // a number or a pattern: nothing to offer
    std::string filenames;
    if (!o.values.empty()) {
      reply = "-W " + sh_quote(joined(o.values, " "));
    } else if (o.takes_file) {
      reply = "-f";
      filenames = "      compopt -o filenames 2>/dev/null\n";
    }
    cases += "    " + joined(o.names, "|") + ")\n" + filenames +
             "      mapfile -t COMPREPLY < <(compgen -P \"$prefix\" " + reply +
             " -- \"$val\")\n      return 0 ;;\n";
  }
  std::string s;
  s += "# bash completion for treecopy.\n";
  s += "# Generated from the command line's options (src/cli/docgen.cpp): do not edit.\n";
  s += "_treecopy() {\n";
  s +=
      "  # The word being completed as typed: bash splits --reflink=al at '=' (COMP_WORDBREAKS).\n";
  s += "  local line=${COMP_LINE:0:COMP_POINT}\n";
  s += "  local cur=${line##*[[:space:]]} prev='' opt='' val='' prefix=''\n";
  s += "  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n";
  s += "  if [[ $cur == --*=* ]]; then\n";
  s += "    opt=${cur%%=*} val=${cur#*=}\n";
  s += "    [[ $COMP_WORDBREAKS == *=* ]] || prefix=\"$opt=\"\n";
  s += "  elif [[ $cur != -* ]]; then\n";
  s += "    opt=$prev val=$cur\n";
  s += "    [[ $prev == = && COMP_CWORD -gt 1 ]] && opt=${COMP_WORDS[COMP_CWORD - 2]}\n";
  s += "  fi\n";
  s += "  case $opt in\n" + cases + "  esac\n";
  s += "  if [[ $cur == -* ]]; then\n";
  s += "    mapfile -t COMPREPLY < <(compgen -W " + sh_quote(joined(all, " ")) + " -- \"$cur\")\n";
  s += "    return 0\n  fi\n";
  s += "  # SRC and DST: paths (complete -o default).\n";
  s += "  COMPREPLY=()\n}\n";
  s += "complete -o default -o bashdefault -F _treecopy treecopy\n";
  return s;
}

std::string zsh_completion() {
  std::string s = "#compdef treecopy\n";
  s += "# zsh completion for treecopy.\n";
  s += "# Generated from the command line's options (src/cli/docgen.cpp): do not edit.\n";
  s += "_arguments -s -S \\\n";
  int operand = 0;
  for (const option_doc& o : option_docs()) {
    if (o.operand)
      s += "  " + sh_quote(std::to_string(++operand) + ":" + o.names[0] + ":_files") + " \\\n";
    else
      s += "  " + zsh_spec(o) + " \\\n";
  }
  s.resize(s.size() - 3);
  s += "\n";
  return s;
}

std::string fish_completion() {
  std::string s = "# fish completion for treecopy.\n";
  s += "# Generated from the command line's options (src/cli/docgen.cpp): do not edit.\n";
  for (const option_doc& o : option_docs()) {
    if (o.operand) continue;  // SRC and DST: fish offers paths
    std::string line = "complete -c treecopy";
    for (const std::string& name : o.names)
      line += (name.size() == 2 ? " -s " + name.substr(1) : " -l " + name.substr(2));
    if (!o.values.empty())
      line += " -x -a " + fish_quote(joined(o.values, " "));
    else if (o.takes_file)
      line += " -r -F";
    else if (!o.value_name.empty())
      line += " -x";
    s += line + " -d " + fish_quote(short_help(o)) + "\n";
  }
  return s;
}

}  // namespace treecopy_cli
