/*
 * A stand-in for mariadbd in loopback tests, compiled by test/support/stand_in.ts into a file
 * named `mariadbd`: `mariadbd [--no-defaults] --version` prints the version line the way the
 * server does (`<argv0>  Ver <SERVER_VERSION> for …`); `mariadbd PROGRAM ARGS…` runs the
 * program as its child (as mariadbd runs an SST script) and exits with its status, so the
 * program finds a `mariadbd` among its parent processes. SIGTERM, SIGINT and SIGHUP are left
 * to the child (sent to the whole process group by the test driver); the stand-in waits.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SERVER_VERSION
#error "compile with -DSERVER_VERSION='\"10.11.19-MariaDB\"'"
#endif

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("%s  Ver %s for debian-linux-gnu on x86_64 (test stand-in)\n", argv[0],
             SERVER_VERSION);
      return 0;
    }
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s --version | %s PROGRAM [ARGS...]\n", argv[0], argv[0]);
    return 2;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 1;
  }
  if (child == 0) {
    execvp(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
