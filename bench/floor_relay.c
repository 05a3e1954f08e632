// The floor for any proxy on this machine: a byte relay that understands nothing (no protocol,
// no audit, no TLS of its own), single-threaded epoll, blocking writes, 6 syscalls per round
// trip. scripts/bench runs it beside direct / pgbouncer / gatehouse so the ratios show what the
// extra hop itself costs here. Not a product: loopback only, no error recovery beyond closing
// the pair.
//
//   floor_relay LISTEN_PORT UPSTREAM_PORT      (both on 127.0.0.1)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { max_fd = 4096, buf_size = 65536 };
static int peer[max_fd];

static int write_all(int fd, const char* p, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, (size_t)n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= w;
  }
  return 0;
}

static void close_pair(int ep, int fd) {
  int other = peer[fd];
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  peer[fd] = -1;
  if (other >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL);
    close(other);
    peer[other] = -1;
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: floor_relay LISTEN_PORT UPSTREAM_PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_in la = {0}, ua = {0};
  la.sin_family = ua.sin_family = AF_INET;
  la.sin_addr.s_addr = ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  la.sin_port = htons((unsigned short)atoi(argv[1]));
  ua.sin_port = htons((unsigned short)atoi(argv[2]));
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr*)&la, sizeof la) != 0 || listen(ls, 128) != 0) {
    perror("floor_relay: listen");
    return 1;
  }
  for (int i = 0; i < max_fd; ++i) peer[i] = -1;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static char buf[buf_size];
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        int u = socket(AF_INET, SOCK_STREAM, 0);
        if (c >= max_fd || u >= max_fd || connect(u, (struct sockaddr*)&ua, sizeof ua) != 0) {
          close(c);
          close(u);
          continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        peer[c] = u;
        peer[u] = c;
        struct epoll_event e1 = {.events = EPOLLIN, .data.fd = c};
        struct epoll_event e2 = {.events = EPOLLIN, .data.fd = u};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &e1);
        epoll_ctl(ep, EPOLL_CTL_ADD, u, &e2);
        continue;
      }
      if (peer[fd] < 0) continue;
      // MSG_DONTWAIT: an event can be stale (its pair closed earlier in this batch and the
      // number reused by an accept); never block the loop on it.
      ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (r <= 0 || write_all(peer[fd], buf, r) != 0) close_pair(ep, fd);
    }
  }
}
