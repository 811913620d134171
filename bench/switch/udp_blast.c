/*
 * Traffic generator and sink for bench/switch_bench.ts, in one single-threaded
 * process (so that both fit on the one core the switch does not use).
 *
 * Sends L2TP data messages (RFC 2661 §3.1: flags 0x0002, Tunnel ID, Session
 * ID, no Length/Ns/Offset; 6-byte header) to --target as fast as it can with
 * sendmmsg, round-robin over the given sessions, and counts what arrives on
 * the sink socket (--sink, bound here) with recvmmsg. Each frame carries its
 * session index after the header so the sink can check that the Tunnel ID and
 * Session ID were rewritten to the expected pair.
 *
 * usage: udp_blast TARGET_PORT SINK_PORT SIZE DURATION_S WARMUP_S PAIRS [PPS]
 *   PAIRS: "tid:sid>tid2:sid2,..." — IDs to send with, and IDs expected at the sink
 *          (expected 0:0 = do not check).
 *   PPS: offered frames per second (default 0: as fast as it can).
 * prints one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define MAXPAIRS 256

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: udp_blast TARGET_PORT SINK_PORT SIZE DURATION_S WARMUP_S PAIRS [PPS]\n");
    return 2;
  }
  int target = atoi(argv[1]), sinkPort = atoi(argv[2]), size = atoi(argv[3]);
  double duration = atof(argv[4]), warmup = atof(argv[5]);
  double pps = argc == 8 ? atof(argv[7]) : 0;
  unsigned tx[MAXPAIRS][2], rx[MAXPAIRS][2];
  int pairs = 0;
  for (char *p = argv[6]; *p && pairs < MAXPAIRS;) {
    if (sscanf(p, "%u:%u>%u:%u", &tx[pairs][0], &tx[pairs][1], &rx[pairs][0], &rx[pairs][1]) != 4) {
      fprintf(stderr, "bad PAIRS\n");
      return 2;
    }
    pairs++;
    p = strchr(p, ',');
    if (!p) break;
    p++;
  }
  if (pairs == 0 || size < 8 || size > 65000) return 2;

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int sink = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  if (setsockopt(sink, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  a.sin_port = htons(sinkPort);
  if (bind(sink, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("bind sink");
    return 1;
  }
  int out = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(out, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  a.sin_port = htons(target);
  if (connect(out, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("connect");
    return 1;
  }

  /* One prebuilt frame per session: header, session index, filler (a PPP-ish payload). */
  uint8_t *frames = calloc(pairs, size);
  for (int i = 0; i < pairs; i++) {
    uint8_t *f = frames + (size_t)i * size;
    f[0] = 0x00; f[1] = 0x02;
    f[2] = tx[i][0] >> 8; f[3] = tx[i][0];
    f[4] = tx[i][1] >> 8; f[5] = tx[i][1];
    f[6] = i >> 8; f[7] = i;
    for (int j = 8; j < size; j++) f[j] = (uint8_t)j;
  }
  struct mmsghdr smsg[BATCH];
  struct iovec siov[BATCH];
  static uint8_t rbuf[BATCH][65536];
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    riov[i].iov_base = rbuf[i];
    riov[i].iov_len = sizeof rbuf[i];
    memset(&rmsg[i], 0, sizeof rmsg[i]);
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
  }

  unsigned long long sent = 0, sendErrors = 0, received = 0, wrongIds = 0, notData = 0;
  unsigned long long inWindow = 0;
  double t0 = now(), tEnd = t0 + duration, wStart = t0 + warmup, lastRx = 0, firstRx = 0;
  int next = 0;

#define DRAIN(flags)                                                                   \
  for (;;) {                                                                           \
    int n = recvmmsg(sink, rmsg, BATCH, (flags), NULL);                                \
    if (n <= 0) break;                                                                 \
    double t = now();                                                                  \
    for (int k = 0; k < n; k++) {                                                      \
      uint8_t *f = rbuf[k];                                                            \
      if (rmsg[k].msg_len < 8 || (f[0] & 0x80)) { notData++; continue; }               \
      received++;                                                                      \
      if (!firstRx) firstRx = t;                                                       \
      lastRx = t;                                                                      \
      if (t >= wStart && t < tEnd) inWindow++;                                         \
      unsigned i = (f[6] << 8) | f[7];                                                 \
      unsigned tid = (f[2] << 8) | f[3], sid = (f[4] << 8) | f[5];                     \
      if (i >= (unsigned)pairs || ((rx[i][0] | rx[i][1]) && (tid != rx[i][0] || sid != rx[i][1]))) \
        wrongIds++;                                                                    \
    }                                                                                  \
    if (n < BATCH) break;                                                              \
  }

  double t = t0;
  while (t < tEnd) {
    if (pps > 0 && sent >= (t - t0) * pps) { /* paced: ahead of schedule, just drain */
      DRAIN(MSG_DONTWAIT);
      t = now();
      continue;
    }
    for (int i = 0; i < BATCH; i++) {
      siov[i].iov_base = frames + (size_t)next * size;
      siov[i].iov_len = size;
      memset(&smsg[i], 0, sizeof smsg[i]);
      smsg[i].msg_hdr.msg_iov = &siov[i];
      smsg[i].msg_hdr.msg_iovlen = 1;
      if (++next == pairs) next = 0;
    }
    int n = sendmmsg(out, smsg, BATCH, 0);
    if (n > 0) sent += n; else sendErrors++;
    DRAIN(MSG_DONTWAIT);
    t = now();
  }
  /* Tail: whatever the relay still has queued, until 300 ms of silence (at most 3 s). */
  double tailEnd = now() + 3.0;
  while (now() < tailEnd) {
    struct pollfd pfd = {.fd = sink, .events = POLLIN};
    if (poll(&pfd, 1, 300) <= 0) break;
    DRAIN(MSG_DONTWAIT);
  }
  double window = duration - warmup;
  printf("{\"sent\":%llu,\"received\":%llu,\"in_window\":%llu,\"window_s\":%.3f,"
         "\"rate_pps\":%.0f,\"offered_pps\":%.0f,\"wrong_ids\":%llu,\"not_data\":%llu,"
         "\"send_errors\":%llu,\"tail_s\":%.3f}\n",
         sent, received, inWindow, window, inWindow / window, sent / duration, wrongIds, notData,
         sendErrors, lastRx > tEnd ? lastRx - tEnd : 0.0);
  return 0;
}
