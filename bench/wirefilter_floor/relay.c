/* The least a cable filter can do, in C: wait for an input, read what is there, write it out.
 *
 * Used by bench/wirefilter_accuracy.py (FLOOR=1) and bench/wirefilter_wakeup.py to measure what
 * any filter process costs in the chain, apart from what it does with the frames. Bidirectional
 * with ALTERNATE_STDIN/ALTERNATE_STDOUT (stdin -> alternate stdout, alternate stdin -> stdout),
 * else stdin -> stdout. Blocking writes; exits at the end of an input.
 */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(void)
{
    static char buf[65536];
    const char *alt_in = getenv("ALTERNATE_STDIN"), *alt_out = getenv("ALTERNATE_STDOUT");
    int in[2] = {0, -1}, out[2] = {1, -1}, n = 1;
    if (alt_in && alt_out) {
        in[1] = atoi(alt_in);
        out[0] = atoi(alt_out);
        out[1] = 1;
        n = 2;
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, in[i], &ev);
    }
    struct epoll_event ready[2];
    for (;;) {
        int k = epoll_wait(ep, ready, 2, -1);
        for (int j = 0; j < k; j++) {
            int i = ready[j].data.u32;
            ssize_t got = read(in[i], buf, sizeof buf);
            if (got <= 0)
                return 0;
            for (ssize_t done = 0; done < got;) {
                ssize_t w = write(out[i], buf + done, got - done);
                if (w < 0)
                    return 1;
                done += w;
            }
        }
    }
}
