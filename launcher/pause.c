/* envpack-pause: the init of a node container whose processes are entered with `runc exec`
 * (as Kubernetes' pause container). It is bind-mounted into the container, so the image needs no
 * `sleep`; it is static so it runs on any image. As PID 1 it reaps orphans, and it exits on
 * SIGTERM/SIGINT/SIGHUP so `runc kill ID TERM` stops the container. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
    (void)sig;
    stop = 1;
}

static void on_child(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    /* Signals stay blocked except inside sigsuspend, so a stop between the test and the wait is
     * not lost. */
    sigset_t blocked, waiting;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked, &waiting);
    while (!stop) {
        sigsuspend(&waiting);
    }
    return 0;
}
