// Drives a program on a pseudo-terminal the way a person at a keyboard would, for testing the
// interactive REPL (prompts, Ctrl-C, Ctrl-D, Tab). Reads directives from stdin, one per line:
//   type TEXT     send TEXT followed by Enter       key TEXT   send TEXT without Enter
//   ctrl-c        send the interrupt character      ctrl-d     send end-of-file
//   tab           send Tab                           up         send the Up arrow (previous history)
//   expect TEXT   wait (up to 5 s) until the output so far, after the last match, contains TEXT
//   exit N        wait for the program to exit with status N
// Prints the transcript; exits 0 when every expectation held, 1 otherwise.
//
//   pty_driver COMMAND [ARGS...] < directives
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <pty.h>
#include <string>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>
#include <vector>

namespace {

int master = -1;
pid_t child = -1;
std::string output;
std::size_t consumed = 0;  // expectations match only after the previous match

// Reads whatever the program printed within `ms`.
void pump(int ms) {
  pollfd p{master, POLLIN, 0};
  while (poll(&p, 1, ms) > 0) {
    char buf[4096];
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) return;
    output.append(buf, static_cast<std::size_t>(n));
    ms = 20;  // keep draining while more arrives
  }
}

bool expect(const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::size_t at = output.find(text, consumed);
    if (at != std::string::npos) {
      consumed = at + text.size();
      return true;
    }
    pump(50);
  }
  return false;
}

void send(const std::string& bytes) {
  if (write(master, bytes.data(), bytes.size()) < 0) std::perror("write");
  pump(100);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pty_driver COMMAND [ARGS...] < directives\n");
    return 2;
  }
  winsize ws{};
  ws.ws_row = 40;
  ws.ws_col = 120;
  child = forkpty(&master, nullptr, nullptr, &ws);
  if (child < 0) {
    std::perror("forkpty");
    return 2;
  }
  if (child == 0) {
    setenv("TERM", "xterm", 1);
    execvp(argv[1], argv + 1);
    _exit(127);
  }

  bool ok = true;
  std::string line;
  while (ok && std::getline(std::cin, line)) {
    std::string word = line.substr(0, line.find(' '));
    std::string arg = line.size() > word.size() ? line.substr(word.size() + 1) : "";
    if (word == "type") send(arg + "\r");
    else if (word == "key") send(arg);
    else if (word == "ctrl-c") send("\x03");
    else if (word == "ctrl-d") send("\x04");
    else if (word == "tab") send("\t");
    else if (word == "up") send("\x1b[A");
    else if (word == "expect") {
      if (!expect(arg)) {
        std::fprintf(stderr, "pty_driver: expected output containing \"%s\" (after offset %zu)\n", arg.c_str(), consumed);
        ok = false;
      }
    } else if (word == "exit") {
      int status = 0;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      pid_t r = 0;
      while ((r = waitpid(child, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) pump(50);
      int code = r == child && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (code != std::atoi(arg.c_str())) {
        std::fprintf(stderr, "pty_driver: expected exit status %s, got %d\n", arg.c_str(), code);
        ok = false;
      }
      child = -1;
    } else if (!word.empty() && word[0] != '#') {
      std::fprintf(stderr, "pty_driver: unknown directive: %s\n", line.c_str());
      return 2;
    }
  }
  pump(50);
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  std::printf("--- transcript ---\n%s\n--- end ---\n", output.c_str());
  return ok ? 0 : 1;
}
