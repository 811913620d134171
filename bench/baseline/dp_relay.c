/*
 * The C reference for bench/dataplane_bench.ts: what lts's data plane does
 * (RFC 2661 §3.1 data messages in, Tunnel ID and Session ID rewritten in place
 * from a table, out to the upstream), written the way a C switch would: one
 * non-blocking socket, recvmmsg(2) batches of 64 into fixed buffers, the
 * same buffers sent on with one sendmmsg(2) per batch, poll(2) when empty.
 *
 * usage: dp_relay LISTEN_PORT DEST_PORT PAIRS_FILE
 *   PAIRS_FILE: one "tid:sid>tid2:sid2" per line: frames arriving with tid:sid
 *   leave with tid2:sid2; unknown sessions are dropped and counted.
 * Prints "dp_relay: listening on PORT", then on SIGTERM {"relayed":n,"unknown":n}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define TABLE (1u << 16) /* open addressing, power of two, > 2 × sessions */

static uint32_t keys[TABLE], values[TABLE];
static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static uint32_t hash(uint32_t k) { return (k * 2654435761u) >> 16; }

static void put(uint32_t k, uint32_t v) {
  for (uint32_t i = hash(k) & (TABLE - 1);; i = (i + 1) & (TABLE - 1))
    if (keys[i] == 0 || keys[i] == k) { keys[i] = k; values[i] = v; return; }
}

static int get(uint32_t k, uint32_t *v) {
  for (uint32_t i = hash(k) & (TABLE - 1); keys[i] != 0; i = (i + 1) & (TABLE - 1))
    if (keys[i] == k) { *v = values[i]; return 1; }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: dp_relay LISTEN_PORT DEST_PORT PAIRS_FILE\n");
    return 2;
  }
  FILE *pf = fopen(argv[3], "r");
  if (!pf) { perror("pairs"); return 1; }
  unsigned a, b, c, d, n = 0;
  while (fscanf(pf, " %u:%u>%u:%u", &a, &b, &c, &d) == 4 && n < TABLE / 2) {
    put((a << 16) | b, (c << 16) | d);
    n++;
  }
  fclose(pf);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int big = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  me.sin_port = htons(atoi(argv[1]));
  if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) { perror("bind"); return 1; }
  struct sockaddr_in dest = me;
  dest.sin_port = htons(atoi(argv[2]));

  static uint8_t buf[BATCH][2048];
  struct iovec riov[BATCH], siov[BATCH];
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  memset(rmsg, 0, sizeof rmsg);
  memset(smsg, 0, sizeof smsg);
  for (int i = 0; i < BATCH; i++) {
    riov[i] = (struct iovec){buf[i], sizeof buf[i]};
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
    smsg[i].msg_hdr.msg_name = &dest;
    smsg[i].msg_hdr.msg_namelen = sizeof dest;
    smsg[i].msg_hdr.msg_iov = &siov[i];
    smsg[i].msg_hdr.msg_iovlen = 1;
  }
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  printf("dp_relay: listening on %d\n", atoi(argv[1]));
  fflush(stdout);

  unsigned long long relayed = 0, unknown = 0;
  while (!stop) {
    int got = recvmmsg(fd, rmsg, BATCH, 0, NULL);
    if (got < 0) {
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, 200);
      }
      continue;
    }
    int out = 0;
    for (int i = 0; i < got; i++) {
      uint8_t *f = buf[i];
      unsigned len = rmsg[i].msg_len;
      /* §3.1: T bit clear (data), Ver 2; the L bit moves Tunnel ID from byte 2 to 4. */
      if (len < 6 || (f[0] & 0x80) || (f[1] & 0x0f) != 2) { unknown++; continue; }
      int at = (f[0] & 0x40) ? 4 : 2;
      uint32_t to;
      if (!get(((uint32_t)f[at] << 24) | (f[at + 1] << 16) | (f[at + 2] << 8) | f[at + 3], &to)) {
        unknown++;
        continue;
      }
      f[at] = to >> 24; f[at + 1] = to >> 16; f[at + 2] = to >> 8; f[at + 3] = to;
      siov[out] = (struct iovec){f, len};
      out++;
    }
    for (int sent = 0; sent < out;) {
      int k = sendmmsg(fd, smsg + sent, out - sent, 0);
      if (k > 0) { sent += k; continue; }
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 200);
        continue;
      }
      sent++; /* a refused datagram is skipped, as lts does */
    }
    relayed += out;
  }
  printf("{\"relayed\":%llu,\"unknown\":%llu}\n", relayed, unknown);
  return 0;
}
