/* Start `guard -c LINE` and, from outside its tree, try to open the
 * credential holder's memory in the moment after its exec and before
 * the broker seals it.
 * - MODE read: once the holder says it has its secret (READY exists),
 *   look for SECRET through what was opened. Prints "won leaked",
 *   "won clean" or "lost".
 * - MODE write: write one byte into the dynamic loader's ELF header
 *   padding (harmless to run, but not what the exec made) through what
 *   was opened, then wait for guard. Prints "wrote STATUS" or "lost".
 * - MODE code: keep writing int3 over the loader's entry point, where
 *   the program starts and where the tracer puts what it injects, for
 *   the next 200 ms, then wait for guard. Prints "wrote STATUS" or
 *   "lost". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: racer GUARD LINE SECRET READY MODE\n"); return 2; }
    const char *guard = argv[1], *line = argv[2], *secret = argv[3], *ready = argv[4];
    int coding = strcmp(argv[5], "code") == 0;
    int writing = coding || strcmp(argv[5], "write") == 0;
    char self[4096];
    ssize_t n = readlink(guard, self, sizeof self - 1);
    if (n < 0) { strncpy(self, guard, sizeof self - 1); n = strlen(self); }
    self[n] = 0;
    pid_t pid = fork();
    if (pid == 0) {
        execl(guard, "guard", "-c", line, (char *)0);
        _exit(127);
    }
    char exe[64], memp[64], mapsp[64], buf[4096];
    snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
    snprintf(memp, sizeof memp, "/proc/%d/mem", pid);
    snprintf(mapsp, sizeof mapsp, "/proc/%d/maps", pid);
    int mem = -1, maps = -1, aux = -1;
    char first[4096] = "";
    for (long i = 0; i < 200000000L; i++) {
        n = readlink(exe, buf, sizeof buf - 1);
        if (n < 0) {
            if (waitpid(pid, NULL, WNOHANG) == pid) break;
            continue;
        }
        buf[n] = 0;
        if (!first[0]) strcpy(first, buf);
        if (strcmp(buf, first) == 0) continue;
        /* A new program in that pid: its memory, if it is still open. */
        mem = open(memp, writing ? O_RDWR : O_RDONLY);
        maps = open(mapsp, O_RDONLY);
        if (coding) {
            char auxp[64];
            snprintf(auxp, sizeof auxp, "/proc/%d/auxv", pid);
            aux = open(auxp, O_RDONLY);
        }
        break;
    }
    if (mem < 0 || maps < 0) {
        printf("lost\n");
        if (!writing) kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return 0;
    }
    if (coding) {
        /* The loader's base, from the auxiliary vector, and its entry. */
        unsigned long av[128] = {0}, base = 0, entry = 0;
        /* The kernel fills it in a moment after the exec begins. */
        for (int tries = 0; tries < 100000 && !base && aux >= 0; tries++) {
            ssize_t an = pread(aux, av, sizeof av, 0);
            for (ssize_t i = 0; i + 1 < an / 8; i += 2)
                if (av[i] == 7) base = av[i + 1];
        }
        if (base && pread(mem, &entry, 8, base + 0x18) == 8 && entry) {
            unsigned char traps[16];
            memset(traps, 0xcc, sizeof traps);
            int hits = 0;
            struct timespec t0, t;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            do {
                if (pwrite(mem, traps, sizeof traps, base + entry) == (ssize_t)sizeof traps) hits++;
                clock_gettime(CLOCK_MONOTONIC, &t);
            } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 200000000L);
            int st = 0;
            waitpid(pid, &st, 0);
            if (!hits) { printf("lost\n"); return 0; }
            printf("wrote %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            return 0;
        }
        waitpid(pid, NULL, 0);
        printf("lost\n");
        return 0;
    }
    if (writing) {
        char mapbuf[65536];
        ssize_t m = 0, r;
        while ((r = read(maps, mapbuf + m, sizeof mapbuf - 1 - m)) > 0) m += r;
        mapbuf[m > 0 ? m : 0] = 0;
        unsigned long lo = 0, off = 1;
        for (char *l = mapbuf; l && *l; ) {
            char *nl = strchr(l, '\n');
            if (nl) *nl = 0;
            if (strstr(l, "ld-linux") && sscanf(l, "%lx-%*x %*s %lx", &lo, &off) == 2 && off == 0) break;
            lo = 0;
            l = nl ? nl + 1 : NULL;
        }
        unsigned char b = 0x5a;
        int wrote = lo && pwrite(mem, &b, 1, lo + 9) == 1;
        int st = 0;
        waitpid(pid, &st, 0);
        if (!wrote) { printf("lost\n"); return 0; }
        printf("wrote %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return 0;
    }
    for (int i = 0; i < 300 && access(ready, F_OK) != 0; i++) usleep(20000);
    char mapbuf[65536];
    ssize_t m = 0, r;
    while ((r = read(maps, mapbuf + m, sizeof mapbuf - 1 - m)) > 0) m += r;
    mapbuf[m > 0 ? m : 0] = 0;
    int leaked = 0;
    size_t slen = strlen(secret);
    for (char *l = mapbuf; l && *l; ) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = 0;
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(l, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[0] == 'r' && hi - lo < (64UL << 20)) {
            char *chunk = malloc(hi - lo);
            ssize_t got = chunk ? pread(mem, chunk, hi - lo, lo) : -1;
            if (got > 0 && memmem(chunk, got, secret, slen)) leaked = 1;
            free(chunk);
        }
        l = nl ? nl + 1 : NULL;
    }
    printf("won %s\n", leaked ? "leaked" : "clean");
    int st;
    waitpid(pid, &st, 0);
    return 0;
}
