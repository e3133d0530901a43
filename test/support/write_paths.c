/*
 * Writes 4 KiB at offset 0 of an existing file through one of the kernel's write paths, the
 * ones InnoDB, Aria and the binary log use (test/integration/write_paths_test.ts):
 *
 *   write_paths pwrite|odirect|libaio|uring|punch|truncate|restored|renamed FILE
 *   write_paths mmap FILE     stores through a shared mapping, prints "dirty", waits for a
 *                             line on stdin, stores again through the same (still dirty)
 *                             page, prints "again", waits for end of input, then exits.
 *
 * Raw system calls only (no libaio or liburing headers needed). Exit 0 on success; on failure
 * a message on stderr and exit 1 (2 for a bad command line).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LEN 4096

static int fail(const char *what) {
  perror(what);
  return 1;
}

static void *block(char fill) {
  void *buf;
  if (posix_memalign(&buf, LEN, LEN) != 0) return NULL;
  memset(buf, fill, LEN);
  return buf;
}

static int with_pwrite(const char *file, int flags) {
  int fd = open(file, O_WRONLY | flags);
  void *buf = block('p');
  if (fd < 0 || !buf) return fail("open");
  if (pwrite(fd, buf, LEN, 0) != LEN) return fail("pwrite");
  return close(fd) == 0 ? 0 : fail("close");
}

static int with_libaio(const char *file) {
  int fd = open(file, O_WRONLY | O_DIRECT);
  void *buf = block('a');
  aio_context_t ctx = 0;
  if (fd < 0 || !buf) return fail("open");
  if (syscall(SYS_io_setup, 8, &ctx) != 0) return fail("io_setup");
  struct iocb cb;
  memset(&cb, 0, sizeof cb);
  cb.aio_fildes = fd;
  cb.aio_lio_opcode = IOCB_CMD_PWRITE;
  cb.aio_buf = (uint64_t)(uintptr_t)buf;
  cb.aio_nbytes = LEN;
  struct iocb *list[1] = {&cb};
  if (syscall(SYS_io_submit, ctx, 1, list) != 1) return fail("io_submit");
  struct io_event ev;
  if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) return fail("io_getevents");
  if (ev.res != LEN) {
    fprintf(stderr, "libaio write returned %lld\n", (long long)ev.res);
    return 1;
  }
  syscall(SYS_io_destroy, ctx);
  return close(fd) == 0 ? 0 : fail("close");
}

static int with_uring(const char *file) {
  int fd = open(file, O_WRONLY | O_DIRECT);
  void *buf = block('u');
  if (fd < 0 || !buf) return fail("open");
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int ring = syscall(__NR_io_uring_setup, 4, &p);
  if (ring < 0) return fail("io_uring_setup");
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                  IORING_OFF_SQ_RING);
  char *cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                  IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
                                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                                   IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) return fail("mmap ring");
  unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
  unsigned idx = *tail & *(unsigned *)(sq + p.sq_off.ring_mask);
  struct io_uring_sqe *e = &sqes[idx];
  memset(e, 0, sizeof *e);
  e->opcode = IORING_OP_WRITE;
  e->fd = fd;
  e->addr = (uint64_t)(uintptr_t)buf;
  e->len = LEN;
  ((unsigned *)(sq + p.sq_off.array))[idx] = idx;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
    return fail("io_uring_enter");
  }
  unsigned head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
  struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  struct io_uring_cqe *c = &cqes[head & *(unsigned *)(cq + p.cq_off.ring_mask)];
  if (c->res != LEN) {
    fprintf(stderr, "io_uring write returned %d\n", c->res);
    return 1;
  }
  close(ring);
  return close(fd) == 0 ? 0 : fail("close");
}

/* A store, then the old times put back: only the change time tells. */
static int with_restored_times(const char *file) {
  struct stat st;
  if (stat(file, &st) != 0) return fail("stat");
  if (with_pwrite(file, 0) != 0) return 1;
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  return utimensat(AT_FDCWD, file, times, 0) == 0 ? 0 : fail("utimensat");
}

/* A new file with the same length renamed over the old one (what a table rebuild does). */
static int with_rename(const char *file) {
  struct stat st;
  char tmp[4096];
  if (stat(file, &st) != 0) return fail("stat");
  snprintf(tmp, sizeof tmp, "%s.new", file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, st.st_size) != 0) return fail("create");
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (futimens(fd, times) != 0 || close(fd) != 0) return fail("futimens");
  return rename(tmp, file) == 0 ? 0 : fail("rename");
}

static int wait_line(void) {
  char line[64];
  return fgets(line, sizeof line, stdin) != NULL;
}

static int with_mmap(const char *file) {
  int fd = open(file, O_RDWR);
  if (fd < 0) return fail("open");
  char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("mmap");
  p[0] = 'm';
  printf("dirty\n");
  fflush(stdout);
  wait_line();
  p[1] = 'M';
  printf("again\n");
  fflush(stdout);
  while (wait_line()) {
  }
  munmap(p, LEN);
  return close(fd) == 0 ? 0 : fail("close");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: write_paths MODE FILE\n");
    return 2;
  }
  const char *mode = argv[1], *file = argv[2];
  if (!strcmp(mode, "pwrite")) return with_pwrite(file, 0);
  if (!strcmp(mode, "odirect")) return with_pwrite(file, O_DIRECT);
  if (!strcmp(mode, "libaio")) return with_libaio(file);
  if (!strcmp(mode, "uring")) return with_uring(file);
  if (!strcmp(mode, "restored")) return with_restored_times(file);
  if (!strcmp(mode, "renamed")) return with_rename(file);
  if (!strcmp(mode, "mmap")) return with_mmap(file);
  if (!strcmp(mode, "punch") || !strcmp(mode, "truncate")) {
    int fd = open(file, O_WRONLY);
    if (fd < 0) return fail("open");
    int r = !strcmp(mode, "punch")
                ? fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, LEN)
                : ftruncate(fd, LEN);
    if (r != 0) return fail(mode);
    return close(fd) == 0 ? 0 : fail("close");
  }
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
