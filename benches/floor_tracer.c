/* The floor under guard's exec tracing: the same mechanism with no
 * decisions in it, so that trace_overhead.sh can show how much of the
 * traced cost is the mechanism itself (this machine's ptrace stops and
 * cross-CPU wake-ups) and how much is guard's own work.
 *
 * It runs argv[1..] under a seccomp filter that stops only execve and
 * execveat (SECCOMP_RET_TRACE), traced with the options guard uses
 * (TRACESECCOMP, TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC, EXITKILL),
 * and at each stop it makes the reads guard cannot do without: the
 * registers, the pages holding path, argv and envp, the tracee's cwd and
 * the file's status before the exec; the binary's status and the new
 * cmdline after it. It decides nothing and lets everything run. Like
 * guard, it holds itself on the CPU it started on and leaves the tree
 * free.
 *
 * Build: cc -O2 -o floor_tracer benches/floor_tracer.c
 * Use:   floor_tracer /bin/bash -c 'for i in $(seq 500); do /bin/true; done'
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[8192];

static void read_page(pid_t p, unsigned long addr) {
  struct iovec local = {buf, 4096};
  struct iovec remote = {(void *)(addr & ~4095UL), 4096};
  process_vm_readv(p, &local, 1, &remote, 1, 0);
}

static void before_exec(pid_t p) {
  struct user_regs_struct r;
  char at[64];
  struct stat st;
  ptrace(PTRACE_GETREGS, p, 0, &r);
  read_page(p, r.rdi);
  read_page(p, r.rsi);
  read_page(p, r.rdx);
  snprintf(at, sizeof at, "/proc/%d/cwd", p);
  if (readlink(at, buf, sizeof buf) < 0) buf[0] = 0;
  snprintf(at, sizeof at, "/proc/%d/root", p);
  stat(at, &st);
}

static void after_exec(pid_t p) {
  unsigned long msg;
  char at[64];
  struct stat st;
  ptrace(PTRACE_GETEVENTMSG, p, 0, &msg);
  snprintf(at, sizeof at, "/proc/%d/exe", p);
  stat(at, &st);
  snprintf(at, sizeof at, "/proc/%d/cmdline", p);
  int fd = open(at, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, buf, sizeof buf) < 0) buf[0] = 0;
    close(fd);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: floor_tracer PROGRAM [ARGS...]\n");
    return 2;
  }
  pid_t root = fork();
  if (root < 0) return 126;
  if (root == 0) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(126);
    execv(argv[1], argv + 1);
    _exit(127);
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  sched_setaffinity(0, sizeof one, &one);
  int st, rc = 126;
  waitpid(root, &st, 0);
  ptrace(PTRACE_SETOPTIONS, root, 0,
         PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
             PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
  ptrace(PTRACE_CONT, root, 0, 0);
  for (;;) {
    pid_t p = waitpid(-1, &st, __WALL);
    if (p < 0) break;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      if (p == root) rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      continue;
    }
    if (!WIFSTOPPED(st)) continue;
    int ev = st >> 16, sig = WSTOPSIG(st);
    unsigned long msg;
    if (ev == PTRACE_EVENT_SECCOMP) {
      before_exec(p);
      sig = 0;
    } else if (ev == PTRACE_EVENT_EXEC) {
      after_exec(p);
      sig = 0;
    } else if (ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK || ev == PTRACE_EVENT_CLONE) {
      ptrace(PTRACE_GETEVENTMSG, p, 0, &msg);
      sig = 0;
    } else if (ev != 0 || sig == SIGSTOP || sig == SIGTRAP) {
      /* A new tracee's first stop, or another event: nothing to deliver. */
      sig = 0;
    }
    ptrace(PTRACE_CONT, p, 0, sig);
  }
  return rc;
}
