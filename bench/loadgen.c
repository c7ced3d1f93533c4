/* A native MLLP load generator for the benchmarks (bench/native.py builds and runs it).
 *
 * One thread per connection, one outstanding message per connection: send a frame, wait for its
 * ACK, record the latency, send the next. Each message is the template with every "@@CID@@@"
 * replaced by its own control ID, <prefix><connection>-<sequence> (warm-up messages included, so
 * IDs never repeat within a run; a run-unique prefix keeps them apart across runs). After a
 * warm-up, all threads start the measured phase together; one JSON object goes to stdout.
 * "messages" counts measured messages that got an ACK; errors (no reply, timeout, closed
 * connection, no MSA-1) are counted apart and have no latency. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PLACEHOLDER "@@CID@@@"
#define PH_LEN 8
#define CID_MAX 64        /* prefix (at most 32 bytes) + two numbers */
#define RBUF_SIZE 65536   /* the largest ACK frame accepted */
#define USAGE "usage: loadgen --port N --messages M --template FILE [--host H] [--connections C] " \
              "[--warmup W] [--prefix STR] [--timeout-ms T]\n"

static const char *NEG_CODES[] = {"AE", "AR", "CE", "CR"};
enum { NNEG = 4 };

struct conn {                        /* one thread's work and results */
    pthread_t tid;
    int idx, fd;
    long warmup, count, seq;         /* messages to send; next sequence number */
    double *lat;                     /* measured latencies (ms), nlat of them */
    long nlat, errors, neg[NNEG];
    char *frame;                     /* the outgoing frame, rebuilt per message */
    char rbuf[RBUF_SIZE];            /* bytes read, rlen of them */
    size_t rlen;
};

static struct addrinfo *g_addr;      /* the resolved --host/--port */
static const char **g_piece;         /* the template split on the placeholder: npiece pieces */
static size_t *g_plen, g_npiece, g_frame_max;
static const char *g_prefix = "L";
static int g_timeout_ms = 10000;
static pthread_barrier_t g_ready, g_go;  /* all warmed up; measured phase may start */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double cpu_us(void) {  /* user + system CPU time of the whole process */
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static int dial(void) {  /* a connected socket, or -1 */
    int fd = socket(g_addr->ai_family, g_addr->ai_socktype, g_addr->ai_protocol);
    if (fd < 0) return -1;
    int one = 1;
    struct timeval tv = {g_timeout_ms / 1000, (g_timeout_ms % 1000) * 1000};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  /* a peer that stops reading */
    if (connect(fd, g_addr->ai_addr, g_addr->ai_addrlen) == 0) return fd;
    if (errno == EINTR) {  /* the connection goes on in the background: wait for its outcome */
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0, r;
        socklen_t len = sizeof err;
        while ((r = poll(&p, 1, g_timeout_ms)) < 0 && errno == EINTR) {}
        if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return fd;
    }
    close(fd);
    return -1;
}

static int send_all(int fd, const char *p, size_t n) {  /* 0, or -1 on error */
    while (n > 0) {
        ssize_t w = send(fd, p, n, 0);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until 0x1C 0x0D; return the frame's length (through the 0x0D) or -1 on timeout, close,
 * error or an oversized frame. Bytes after it stay in rbuf for the next call. */
static long read_frame(struct conn *c, double deadline) {
    size_t scanned = 0;
    for (;;) {
        for (; scanned + 1 < c->rlen; scanned++)
            if (c->rbuf[scanned] == 0x1c && c->rbuf[scanned + 1] == 0x0d) return (long)scanned + 2;
        if (c->rlen == RBUF_SIZE) return -1;
        int left = (int)(deadline - now_ms());
        if (left <= 0) return -1;
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t got = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        c->rlen += (size_t)got;
    }
}

/* MSA-1 of the ACK in rbuf[0, n): its index in NEG_CODES, NNEG for AA/CA, -1 if absent. */
static int ack_code(const char *b, long n) {
    for (long i = 0; i + 6 <= n; i++) {
        if ((i == 0 || b[i - 1] == '\r' || b[i - 1] == 0x0b) && memcmp(b + i, "MSA|", 4) == 0) {
            const char *f = b + i + 4;
            if (i + 7 <= n && f[2] != '|' && f[2] != '\r' && f[2] != '^' && f[2] != 0x1c) return -1;
            if (!memcmp(f, "AA", 2) || !memcmp(f, "CA", 2)) return NNEG;
            for (int k = 0; k < NNEG; k++)
                if (!memcmp(f, NEG_CODES[k], 2)) return k;
            return -1;
        }
    }
    return -1;
}

/* Send one message and wait for its ACK. On an I/O failure, reconnect once (the message is not
 * sent again); if that fails, c->fd becomes -1 and the thread stops. */
static void exchange(struct conn *c, int measured) {
    char cid[CID_MAX];
    int cl = snprintf(cid, sizeof cid, "%s%d-%ld", g_prefix, c->idx, c->seq++);
    size_t n = 0;
    c->frame[n++] = 0x0b;
    for (size_t i = 0; i < g_npiece; i++) {
        memcpy(c->frame + n, g_piece[i], g_plen[i]);
        n += g_plen[i];
        if (i + 1 < g_npiece) { memcpy(c->frame + n, cid, (size_t)cl); n += (size_t)cl; }
    }
    c->frame[n++] = 0x1c;
    c->frame[n++] = 0x0d;
    double start = now_ms();
    long len = send_all(c->fd, c->frame, n) == 0 ? read_frame(c, start + g_timeout_ms) : -1;
    double ms = now_ms() - start;
    if (len < 0) {
        close(c->fd);
        c->rlen = 0;
        c->fd = dial();
        if (measured) c->errors++;
        return;
    }
    int code = ack_code(c->rbuf, len);
    c->rlen -= (size_t)len;
    if (measured) {
        if (code < 0) {
            c->errors++;
        } else {
            c->lat[c->nlat++] = ms;
            if (code < NNEG) c->neg[code]++;
        }
    }
    memmove(c->rbuf, c->rbuf + len, c->rlen);
}

static void *worker(void *arg) {
    struct conn *c = arg;
    c->fd = dial();
    for (long i = 0; i < c->warmup && c->fd >= 0; i++) exchange(c, 0);
    pthread_barrier_wait(&g_ready);
    pthread_barrier_wait(&g_go);  /* the main thread has read the clocks */
    for (long i = 0; i < c->count; i++) {
        if (c->fd < 0) { c->errors += c->count - i; break; }
        exchange(c, 1);
    }
    if (c->fd >= 0) close(c->fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_pct(const char *name, const double *v, long n, long permille) {  /* nearest rank */
    if (n == 0) { printf("\"%s\":null,", name); return; }
    long rank = (permille * n + 999) / 1000;
    printf("\"%s\":%.3f,", name, v[rank > 0 ? rank - 1 : 0]);
}

static long parse_num(const char *s, long lo, long hi) {  /* -1 if not an integer in [lo, hi] */
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (errno || end == s || *end || v < lo || v > hi) ? -1 : v;
}

static int usage(void) {
    fputs(USAGE, stderr);
    return 2;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *port = NULL, *template = NULL;
    long conns = 1, messages = -1, warmup = 20;  /* -1: invalid or missing (--messages is required) */
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val) return usage();
        if (!strcmp(opt, "--host")) host = val;
        else if (!strcmp(opt, "--port")) port = parse_num(val, 1, 65535) < 0 ? NULL : val;
        else if (!strcmp(opt, "--connections")) conns = parse_num(val, 1, 10000);
        else if (!strcmp(opt, "--messages")) messages = parse_num(val, 0, 1000000000L);
        else if (!strcmp(opt, "--warmup")) warmup = parse_num(val, 0, 1000000000L);
        else if (!strcmp(opt, "--prefix")) g_prefix = val;
        else if (!strcmp(opt, "--template")) template = val;
        else if (!strcmp(opt, "--timeout-ms")) g_timeout_ms = (int)parse_num(val, 1, 3600000);
        else return usage();
    }
    if (!port || !template || conns < 0 || messages < 0 || warmup < 0 || g_timeout_ms < 0 || !*g_prefix ||
        strlen(g_prefix) > 32)
        return usage();

    /* The template, split on the placeholder (n occurrences give n + 1 pieces). */
    FILE *f = fopen(template, "rb");
    if (!f) { perror(template); return 1; }
    static char tpl[1 << 20];
    size_t tlen = fread(tpl, 1, sizeof tpl, f);
    int too_big = fgetc(f) != EOF;
    fclose(f);
    if (too_big) { fprintf(stderr, "%s: larger than 1 MiB\n", template); return 1; }
    g_piece = malloc((tlen / PH_LEN + 1) * sizeof *g_piece);
    g_plen = malloc((tlen / PH_LEN + 1) * sizeof *g_plen);
    if (!g_piece || !g_plen) { perror("malloc"); return 1; }
    size_t from = 0;
    for (size_t i = 0; i + PH_LEN <= tlen; i++) {
        if (memcmp(tpl + i, PLACEHOLDER, PH_LEN) == 0) {
            g_piece[g_npiece] = tpl + from;
            g_plen[g_npiece++] = i - from;
            from = i + PH_LEN;
            i += PH_LEN - 1;
        }
    }
    g_piece[g_npiece] = tpl + from;
    g_plen[g_npiece++] = tlen - from;
    if (g_npiece == 1) fprintf(stderr, "%s: no %s placeholder; every message is the same\n", template, PLACEHOLDER);
    g_frame_max = tlen + (g_npiece - 1) * CID_MAX + 3;

    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &g_addr);
    if (gai) { fprintf(stderr, "%s: %s\n", host, gai_strerror(gai)); return 1; }
    signal(SIGPIPE, SIG_IGN);  /* a closed peer is an error to count, not a reason to die */

    struct conn *c = calloc((size_t)conns, sizeof *c);
    if (!c) { perror("calloc"); return 1; }
    pthread_barrier_init(&g_ready, NULL, (unsigned)conns + 1);
    pthread_barrier_init(&g_go, NULL, (unsigned)conns + 1);
    for (long i = 0; i < conns; i++) {
        c[i].idx = (int)i;
        c[i].warmup = warmup;
        c[i].count = messages / conns + (i < messages % conns);
        c[i].lat = malloc(((size_t)c[i].count + 1) * sizeof *c[i].lat);
        c[i].frame = malloc(g_frame_max);
        if (!c[i].lat || !c[i].frame) { perror("malloc"); return 1; }
        if (pthread_create(&c[i].tid, NULL, worker, &c[i])) { perror("pthread_create"); return 1; }
    }
    pthread_barrier_wait(&g_ready);
    double t0 = now_ms(), cpu0 = cpu_us();
    pthread_barrier_wait(&g_go);
    for (long i = 0; i < conns; i++) pthread_join(c[i].tid, NULL);
    double seconds = (now_ms() - t0) / 1e3, cpu = cpu_us() - cpu0;

    /* Merge the latencies and counts, then print. */
    long n = 0, errors = 0, neg[NNEG] = {0};
    double *all = malloc(((size_t)messages + 1) * sizeof *all);
    if (!all) { perror("malloc"); return 1; }
    for (long i = 0; i < conns; i++) {
        memcpy(all + n, c[i].lat, (size_t)c[i].nlat * sizeof *all);
        n += c[i].nlat;
        errors += c[i].errors;
        for (int k = 0; k < NNEG; k++) neg[k] += c[i].neg[k];
    }
    qsort(all, (size_t)n, sizeof *all, cmp_double);
    printf("{\"connections\":%ld,\"messages\":%ld,\"seconds\":%.6f,\"msg_per_s\":%.1f,", conns, n, seconds,
           seconds > 0 ? n / seconds : 0.0);
    print_pct("p50_ms", all, n, 500);
    print_pct("p90_ms", all, n, 900);
    print_pct("p99_ms", all, n, 990);
    print_pct("max_ms", all, n, 1000);
    printf("\"errors\":%ld,\"negative\":{", errors);
    for (int k = 0, first = 1; k < NNEG; k++) {
        if (neg[k]) { printf("%s\"%s\":%ld", first ? "" : ",", NEG_CODES[k], neg[k]); first = 0; }
    }
    printf("},\"client_cpu_us_per_msg\":%.2f}\n", n ? cpu / n : 0.0);
    freeaddrinfo(g_addr);
    return 0;
}
