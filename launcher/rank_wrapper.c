/* The MPI rank wrapper, `envpack-agent --rank [--exits DIR] [--gpus N] -- COMMAND...` (the agent
 * binary's second mode, so every MPI node container already has it; see launcher/plan.h).
 * mpirun / Hydra's proxy starts it as each rank. It
 * - maps the launcher's variables (OpenMPI's OMPI_COMM_WORLD_*, MPICH's PMI_RANK, PMI_SIZE,
 *   MPI_LOCALRANKID, MPI_LOCALNRANKS) to RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 *   NODE_RANK (and CUDA_VISIBLE_DEVICES = local rank mod N with --gpus N);
 * - runs COMMAND as its child (which dies with the wrapper: PR_SET_PDEATHSIG), forwarding
 *   SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it;
 * - when the child fails (a non-zero exit or a signal) and no signal was forwarded to it (a failure
 *   of its own, not the job being stopped), records it as DIR/rank.R.exit before anything else
 *   learns of it: one line `exit CODE TIME_NS` or `signal N TIME_NS` (CLOCK_REALTIME), written
 *   to a temporary name and renamed. envpack watches DIR (bind-mounted from the run record,
 *   launcher/rank_exits.h), stops the whole job at once and exits with the first recorded code;
 * - ends as its child did: the same exit code, or the same signal raised on itself.
 * A COMMAND that cannot be run exits 127 (not found) or 126, as a shell does. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

static volatile pid_t child_pid = -1;
static volatile sig_atomic_t got_signal = 0;

static void forward(int sig) {
    got_signal = sig;
    if (child_pid > 0) {
        kill(child_pid, sig);
    }
}

/* ${A:-${B:-DEFAULT}} */
static const char* either(const char* a, const char* b, const char* dflt) {
    const char* v = getenv(a);
    if (v && *v) {
        return v;
    }
    v = getenv(b);
    return v && *v ? v : dflt;
}

static void set_num(const char* name, long value) {
    char text[32];
    snprintf(text, sizeof text, "%ld", value);
    setenv(name, text, 1);
}

static void export_rank_variables(long gpus) {
    const char* r = either("OMPI_COMM_WORLD_RANK", "PMI_RANK", "0");
    const char* n = either("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "1");
    const char* l = either("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "0");
    const char* s = either("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "1");
    long local_size = atol(s);
    setenv("RANK", r, 1);
    setenv("WORLD_SIZE", n, 1);
    setenv("LOCAL_RANK", l, 1);
    setenv("LOCAL_WORLD_SIZE", s, 1);
    set_num("NODE_RANK", local_size > 0 ? atol(r) / local_size : 0);
    if (gpus > 0) {
        set_num("CUDA_VISIBLE_DEVICES", atol(l) % gpus);
    }
}

/* DIR/rank.R.exit, atomically; a failure to write is reported and otherwise ignored (the job
 * still stops through its MPI launcher, with the launcher's exit code). */
static void record_failure(const char* dir, const char* kind, int value) {
    const char* rank = getenv("RANK");
    char path[4096], tmp[4096], line[128];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int n = snprintf(line, sizeof line, "%s %d %lld%09ld\n", kind, value, (long long)now.tv_sec,
                     now.tv_nsec);
    snprintf(path, sizeof path, "%s/rank.%s.exit", dir, rank);
    snprintf(tmp, sizeof tmp, "%s/.rank.%s.exit.%ld", dir, rank, (long)getpid());
    mkdir(dir, 0755);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n || close(fd) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "envpack-rank: record the failure of rank %s in %s: %s\n", rank, dir,
                strerror(errno));
        unlink(tmp);
    }
}

static int usage(void) {
    fputs("usage: envpack-agent --rank [--exits DIR] [--gpus N] -- COMMAND...\n", stderr);
    return 127;
}

int envpack_rank_main(int argc, char** argv) {
    const char* exits = NULL;
    long gpus = 0;
    int i = 2;
    for (; i < argc; ++i) {
        if (strcmp(argv[i], "--") == 0) {
            ++i;
            break;
        } else if (strcmp(argv[i], "--exits") == 0 && i + 1 < argc) {
            exits = argv[++i];
        } else if (strcmp(argv[i], "--gpus") == 0 && i + 1 < argc) {
            gpus = atol(argv[++i]);
        } else {
            return usage();
        }
    }
    if (i >= argc) {
        return usage();
    }
    char** command = argv + i;
    export_rank_variables(gpus);

    /* Signals stay blocked until child_pid is set, so none is lost or sent to nobody. */
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t k = 0; k < N_FORWARDED; ++k) {
        sigaddset(&block, forwarded[k]);
    }
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGCHLD, SIG_DFL); /* waitpid must see the child, whatever the launcher left */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "envpack-rank: fork: %s\n", strerror(errno));
        return 126;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(137); /* the wrapper is already gone */
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(command[0], command);
        int err = errno;
        fprintf(stderr, "envpack-rank: %s: %s\n", command[0], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < N_FORWARDED; ++k) {
        sigaction(forwarded[k], &sa, NULL);
    }
    /* The wrapper keeps its copy of MPICH's PMI_FD open: Hydra's proxy kills every rank of its
     * node (the wrapper too) as soon as that connection closes without PMI finalize, and the
     * failure must be recorded first. */
    sigprocmask(SIG_SETMASK, &old, NULL);

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "envpack-rank: wait: %s\n", strerror(errno));
            return 126;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (exits && !got_signal) {
        if (WIFEXITED(status)) {
            record_failure(exits, "exit", WEXITSTATUS(status));
        } else {
            record_failure(exits, "signal", WTERMSIG(status));
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    /* The same signal, without a second core dump. */
    int sig = WTERMSIG(status);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t just;
    sigemptyset(&just);
    sigaddset(&just, sig);
    sigprocmask(SIG_UNBLOCK, &just, NULL);
    raise(sig);
    return 128 + sig;
}
