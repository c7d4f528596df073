#include "repl_input.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <unistd.h>

#include <editline/readline.h>

#include "signals.hpp"
#include "util/xdg.hpp"

namespace sidecar::cli {
namespace {

constexpr int kHistoryEntries = 1000;

// libedit's readline interface is global state, so these are too (one LineReader at a time).
LineReader::Completer g_completer;
std::vector<std::string> g_matches;
bool g_line_done = false;
bool g_line_eof = false;
std::string g_line;

char* next_match(const char*, int state) {
  static std::size_t index;
  if (state == 0) index = 0;
  if (index >= g_matches.size()) return nullptr;
  return strdup(g_matches[index++].c_str());  // readline frees it
}

char** complete(const char* text, int, int) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  g_matches = g_completer ? g_completer(text) : std::vector<std::string>{};
  if (g_matches.empty()) return nullptr;
  return rl_completion_matches(text, next_match);
}

void on_line(char* line) {
  g_line_done = true;
  g_line_eof = line == nullptr;
  if (line) {
    g_line = line;
    std::free(line);
  }
  rl_callback_handler_remove();  // restores the terminal until the next prompt
}

// Plain reading for pipes: one line without its newline; a final line without one counts.
LineReader::Status read_plain(std::string& line) {
  line.clear();
  if (terminated()) return LineReader::Status::Eof;  // SIGTERM: read nothing more
  for (;;) {
    int c = std::getchar();
    if (c == EOF) {
      if (std::ferror(stdin) && take_interrupt() && !terminated()) {
        std::clearerr(stdin);
        return LineReader::Status::Interrupted;
      }
      return line.empty() ? LineReader::Status::Eof : LineReader::Status::Line;
    }
    if (c == '\n') return LineReader::Status::Line;
    line.push_back(static_cast<char>(c));
  }
}

}  // namespace

LineReader::LineReader(bool interactive, std::string history_file, Completer completer)
    : interactive_(interactive), history_file_(std::move(history_file)) {
  if (!interactive_) return;
  g_completer = std::move(completer);
  rl_readline_name = "sidecar";
  rl_catch_signals = 0;  // our SIGINT handler decides what Ctrl-C means
  rl_initialize();
  // '.' and ':' are part of a word so "string.fo" completes as a whole.
  rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
  rl_completer_word_break_characters = const_cast<char*>(rl_basic_word_break_characters);
  rl_attempted_completion_function = complete;
  rl_completion_append_character = '\0';
  stifle_history(kHistoryEntries);
  if (!history_file_.empty()) read_history(history_file_.c_str());  // a missing file is fine
}

LineReader::~LineReader() {
  if (interactive_) g_completer = nullptr;
}

LineReader::Status LineReader::read(const std::string& prompt, std::string& line) {
  PromptInterruptScope on_ctrl_c;
  take_interrupt();  // forget a Ctrl-C that already interrupted the previous chunk
  if (!interactive_) return read_plain(line);

  // The callback interface lets us wait in poll(), where Ctrl-C (EINTR) can abandon the line.
  g_line_done = g_line_eof = false;
  g_line.clear();
  rl_callback_handler_install(prompt.c_str(), on_line);
  while (!g_line_done) {
    if (terminated()) {  // SIGTERM, maybe while the last chunk ran: stop reading
      rl_callback_handler_remove();
      return Status::Eof;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int ready = poll(&p, 1, -1);
    if (take_interrupt()) {
      rl_replace_line("", 0);
      rl_callback_handler_remove();
      std::fputs("\n", stdout);
      std::fflush(stdout);
      return Status::Interrupted;
    }
    if (ready > 0) rl_callback_read_char();
    else if (ready < 0 && errno != EINTR) return Status::Eof;
  }
  if (g_line_eof) {
    std::fputs("\n", stdout);
    return Status::Eof;
  }
  line = g_line;
  return Status::Line;
}

void LineReader::remember(const std::string& entry) {
  if (!interactive_ || entry.find_first_not_of(" \t\n") == std::string::npos || entry == last_entry_) return;
  last_entry_ = entry;
  add_history(entry.c_str());
  if (history_file_.empty()) return;
  std::string dir = history_file_.substr(0, history_file_.rfind('/'));
  if (!xdg::make_dirs(dir, history_problem_) || write_history(history_file_.c_str()) != 0) {
    if (history_problem_.empty()) history_problem_ = "cannot write " + history_file_;
  } else {
    history_problem_.clear();
  }
}

}  // namespace sidecar::cli
