/* envpack-agent: mpirun's plm_rsh_agent inside node 0's container (see launcher/broker.h).
 * mpirun runs it as `envpack-agent HOST WORD...` with shell-quoted words (OpenMPI's rsh
 * launcher); it asks the broker on the launching host, through the socket bind-mounted at
 * /.envpack/broker/sock ($ENVPACK_BROKER_SOCKET overrides), to run `/bin/sh -c "WORD..."` in
 * node HOST's container with this process's fds 0, 1 and 2 (passed with SCM_RIGHTS), waits for
 * the answer and exits with the remote command's exit code (255 when the broker refuses or goes
 * away, with the reason on stderr). MPICH's Hydra runs it as its ssh launcher
 * (`-launcher ssh -launcher-exec AGENT`): `envpack-agent -x HOST WORD...`; leading words that
 * start with '-' (ssh options) are skipped. Static, so it runs in any image.
 * `envpack-agent --rank ...` is its other mode, the MPI rank wrapper (rank_wrapper.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char* buf;
static size_t len, cap;

static void put(const char* s, size_t n) {
    if (len + n + 1 > cap) {
        cap = (len + n + 1) * 2;
        buf = realloc(buf, cap);
        if (!buf) {
            fputs("envpack-agent: out of memory\n", stderr);
            exit(255);
        }
    }
    memcpy(buf + len, s, n);
    len += n;
    buf[len++] = '\0';
}

static void put_str(const char* s) {
    put(s, strlen(s));
}

static void put_num(size_t n) {
    char text[32];
    snprintf(text, sizeof text, "%zu", n);
    put_str(text);
}

int envpack_rank_main(int argc, char** argv); /* rank_wrapper.c */

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "--rank") == 0) {
        return envpack_rank_main(argc, argv);
    }
    /* ssh options before the host (Hydra passes -x): skipped, as the broker needs none. */
    while (argc > 1 && argv[1][0] == '-') {
        argv[1] = argv[0];
        ++argv;
        --argc;
    }
    if (argc < 3) {
        fputs(
            "usage: envpack-agent HOST COMMAND...\n"
            "(mpirun's plm_rsh_agent inside an envpack node container)\n",
            stderr);
        return 255;
    }
    const char* socket_path = getenv("ENVPACK_BROKER_SOCKET");
    if (!socket_path || !*socket_path) {
        socket_path = "/.envpack/broker/sock";
    }
    /* The command: the words joined by spaces, parsed once by the remote shell (as ssh does). */
    size_t line_len = 0;
    for (int i = 2; i < argc; ++i) {
        line_len += strlen(argv[i]) + 1;
    }
    char* line = calloc(line_len + 1, 1);
    if (!line) {
        return 255;
    }
    for (int i = 2; i < argc; ++i) {
        if (i > 2) {
            strcat(line, " ");
        }
        strcat(line, argv[i]);
    }
    len = 4; /* room for the length prefix */
    cap = 4096;
    buf = malloc(cap);
    if (!buf) {
        return 255;
    }
    put_str("envpack-broker/1");
    put_str("exec");
    put_str(argv[1]);
    put_num(3);
    put_str("/bin/sh");
    put_str("-c");
    put_str(line);
    put_num(0);
    uint32_t payload = (uint32_t)(len - 4);
    buf[0] = (char)((payload >> 24) & 0xff);
    buf[1] = (char)((payload >> 16) & 0xff);
    buf[2] = (char)((payload >> 8) & 0xff);
    buf[3] = (char)(payload & 0xff);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof addr.sun_path) {
        fprintf(stderr, "envpack-agent: socket path %s is too long\n", socket_path);
        return 255;
    }
    strcpy(addr.sun_path, socket_path);
    if (fd < 0 || connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
        fprintf(stderr, "envpack-agent: connect to the envpack broker at %s: %s\n", socket_path,
                strerror(errno));
        return 255;
    }
    /* The first chunk carries fds 0, 1, 2. */
    int fds[3] = {0, 1, 2};
    union {
        struct cmsghdr align;
        char control[CMSG_SPACE(sizeof fds)];
    } u;
    memset(&u, 0, sizeof u);
    size_t sent = 0;
    while (sent < len) {
        struct iovec iov = {buf + sent, len - sent};
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (sent == 0) {
            msg.msg_control = u.control;
            msg.msg_controllen = sizeof u.control;
            struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof fds);
            memcpy(CMSG_DATA(c), fds, sizeof fds);
        }
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "envpack-agent: send to the broker: %s\n", strerror(errno));
            return 255;
        }
        sent += (size_t)n;
    }
    /* The answer: one line. */
    char reply[4096];
    size_t got = 0;
    while (got + 1 < sizeof reply) {
        ssize_t n = read(fd, reply + got, sizeof reply - 1 - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        if (memchr(reply, '\n', got)) {
            break;
        }
    }
    reply[got] = '\0';
    char* nl = strchr(reply, '\n');
    if (!nl) {
        fprintf(stderr, "envpack-agent: the envpack broker went away (host %s)\n", argv[1]);
        return 255;
    }
    *nl = '\0';
    if (strncmp(reply, "exit ", 5) == 0) {
        return atoi(reply + 5);
    }
    fprintf(stderr, "envpack-agent: %s\n", strncmp(reply, "error ", 6) == 0 ? reply + 6 : reply);
    return 255;
}
