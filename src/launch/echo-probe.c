/*
 * teamssh-echo-probe: tells the server whether a session's terminal echoes typed input.
 *
 * Node cannot call tcgetattr(3), and node-pty exposes no termios. The server starts this
 * helper once and writes one pty slave path a line ("/dev/pts/N"); for each it answers one
 * line: "1" ECHO on, "0" ECHO off, "E" the terminal could not be read (the server then treats
 * echo as off and records nothing). A round trip takes ~0.2 ms; `stty -F` takes ~17 ms.
 *
 * The slave is opened with O_NOCTTY (it never becomes our controlling terminal) and
 * O_NONBLOCK (no wait for carrier), read, and closed at once. Only /dev/pts/<digits> is
 * opened: the helper reads nothing else whatever it is sent.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int is_pts(const char *p) {
  const char *prefix = "/dev/pts/";
  size_t n = strlen(prefix);
  if (strncmp(p, prefix, n) != 0 || p[n] == '\0') return 0;
  for (p += n; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

int main(void) {
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    const char *answer = "E\n";
    if (is_pts(line)) {
      int fd = open(line, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
      struct termios t;
      if (fd >= 0) {
        if (tcgetattr(fd, &t) == 0) answer = (t.c_lflag & ECHO) ? "1\n" : "0\n";
        close(fd);
      }
    }
    if (fputs(answer, stdout) == EOF || fflush(stdout) == EOF) return 1;
  }
  return 0;
}
