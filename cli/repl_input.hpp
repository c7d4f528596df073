// Reading REPL input: libedit (prompts, history, completion) on a terminal, plain lines otherwise.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace sidecar::cli {

class LineReader {
 public:
  // Candidates that complete the word before the cursor ("string.fo" -> "string.format").
  using Completer = std::function<std::vector<std::string>(const std::string& word)>;

  // `interactive`: use libedit with prompts; otherwise read stdin line by line, print no prompt.
  // `history_file`: where history is loaded from and saved to ("" = keep none).
  LineReader(bool interactive, std::string history_file, Completer completer);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  enum class Status { Line, Eof, Interrupted };
  Status read(const std::string& prompt, std::string& line);

  // Adds an entry (a whole chunk, newlines included) to the history and saves the file.
  void remember(const std::string& entry);

  // Why history is not being saved, if it is not ("" when it is fine).
  const std::string& history_problem() const { return history_problem_; }

 private:
  bool interactive_;
  std::string history_file_;
  std::string history_problem_;
  std::string last_entry_;
};

}  // namespace sidecar::cli
