#include "process/pty.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sidecar::host {

bool open_pty(int& master, int& slave, uint16_t cols, uint16_t rows, std::string& error) {
  master = slave = -1;
  char name[128];
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) {
    error = std::string("cannot open a pseudo-terminal: ") + std::strerror(errno);
    if (m >= 0) close(m);
    return false;
  }
  int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    error = std::string("cannot open ") + name + ": " + std::strerror(errno);
    close(m);
    return false;
  }
  termios t {};
  if (tcgetattr(s, &t) == 0) {
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    t.c_oflag &= ~static_cast<tcflag_t>(ONLCR);
    tcsetattr(s, TCSANOW, &t);
  }
  winsize ws {};
  ws.ws_col = cols;
  ws.ws_row = rows;
  ioctl(s, TIOCSWINSZ, &ws);
  fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
  master = m;
  slave = s;
  return true;
}

}  // namespace sidecar::host
