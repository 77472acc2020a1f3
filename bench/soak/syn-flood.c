/*
 * Soak bench traffic: spoofed TCP SYNs from a raw socket, for `npm run bench -- soak` only. It runs
 * inside the bench's scanner namespace and sends to one address, the bench's firewall namespace on
 * the other end of a veth pair: the packets never leave namespaces the bench created.
 *
 *   syn-flood DST RATE SECONDS FAST SLOW SLOW_GAP_MS
 *
 * - Background: RATE SYNs/s for SECONDS, each from a new source in 198.18.0.0/15 (RFC 2544's
 *   benchmarking range) to a random port: one probe per source, never a scan.
 * - FAST scanners (198.19.254.N): 12 ports 10 ms apart, spread over the run.
 * - SLOW scanners (198.19.253.N): 5 ports SLOW_GAP_MS apart, starting in the first second.
 * For each scanner it prints "SCAN <ip> <ms>" with CLOCK_REALTIME ms of its 5th probe (the one that
 * makes it a scan with the default maxretry 5); at the end "LATE <max ms> <ticks over 5 ms late>"
 * (how far the scheduler kept it from its pace), "SENT <n>" and "CPU <user µs> <system µs>" (its own;
 * system time includes the softirqs that carry its packets through the firewall namespace).
 * Each SYN's TCP sequence number is its send time (CLOCK_MONOTONIC µs, low 32 bits), for readers
 * that see the packet (bench/soak/nflog-count.c) to measure latency.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint32_t rng = 2463534242u;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static int fd;
static struct sockaddr_in to;
static unsigned long sent;

/* One SYN from src (host order) to port: 20 bytes IP header (the kernel fills checksum and id) + 20 TCP. */
static void syn(uint32_t src, uint16_t port) {
  uint8_t p[40];
  memset(p, 0, sizeof p);
  p[0] = 0x45;
  p[2] = 0; p[3] = 40;
  p[8] = 64;
  p[9] = IPPROTO_TCP;
  uint32_t s = htonl(src);
  memcpy(p + 12, &s, 4);
  memcpy(p + 16, &to.sin_addr.s_addr, 4);
  uint8_t *t = p + 20;
  uint16_t sport = htons((uint16_t)(1024 + next_rand() % 60000)), dport = htons(port);
  memcpy(t, &sport, 2);
  memcpy(t + 2, &dport, 2);
  /* The sequence number is the send time (CLOCK_MONOTONIC µs, low 32 bits): a reader that sees the
     TCP header (nflog-count.c) measures packet-to-reader latency from it. */
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint32_t seq = htonl((uint32_t)((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u));
  memcpy(t + 4, &seq, 4);
  t[12] = 5 << 4;
  t[13] = 0x02; /* SYN */
  t[14] = 0xfa; t[15] = 0xf0; /* window 64240 */
  /* TCP checksum over the pseudo header and the segment: conntrack checks it. */
  uint32_t sum = 0;
  for (int i = 12; i < 20; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  sum += IPPROTO_TCP + 20;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(t[i] << 8 | t[i + 1]);
  uint16_t c = htons(fold(sum));
  memcpy(t + 16, &c, 2);
  if (sendto(fd, p, sizeof p, 0, (struct sockaddr *)&to, sizeof to) == 40) sent++;
}

static double now_ms(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: syn-flood DST RATE SECONDS FAST SLOW SLOW_GAP_MS\n");
    return 2;
  }
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  long rate = atol(argv[2]), seconds = atol(argv[3]), fast = atol(argv[4]), slow = atol(argv[5]), slow_gap = atol(argv[6]);
  if (rate < 0 || seconds <= 0 || fast < 0 || fast > 200 || slow < 0 || slow > 200 || slow_gap <= 0) return 2;
  fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  rng ^= (uint32_t)getpid();
  const long ticks = seconds * 1000;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  double owed = 0;
  uint32_t bg = 0;
  /* How late the ticks ran (the scheduler kept the generator off the CPU): it then catches up at
     full speed, a burst the kernel's small ring may not hold however fast its reader is. */
  double late_max = 0;
  long late_ticks = 0;
  for (long tick = 0; tick < ticks; tick++) {
    double late = now_ms(CLOCK_MONOTONIC) - ((double)next.tv_sec * 1000 + next.tv_nsec / 1e6);
    if (late > late_max) late_max = late;
    if (late > 5) late_ticks++;
    owed += rate / 1000.0;
    while (owed >= 1) {
      /* 198.18.0.0/15 minus the scanners' 198.19.253-254.x */
      uint32_t src = (198u << 24 | 18u << 16) + (bg++ % 130000u);
      syn(src, (uint16_t)(1 + next_rand() % 65000));
      owed -= 1;
    }
    for (long i = 0; i < fast; i++) {
      long start = 1000 + i * (ticks - 2000) / (fast > 1 ? fast - 1 : 1);
      long k = tick - start;
      if (k >= 0 && k < 120 && k % 10 == 0) {
        uint32_t src = (198u << 24 | 19u << 16 | 254u << 8) + (uint32_t)(i + 1);
        syn(src, (uint16_t)(20000 + k / 10));
        if (k / 10 == 4) printf("SCAN 198.19.254.%ld %.0f\n", i + 1, now_ms(CLOCK_REALTIME));
      }
    }
    for (long i = 0; i < slow; i++) {
      long start = 200 + i * 50;
      long k = tick - start;
      if (k >= 0 && k % slow_gap == 0 && k / slow_gap < 5) {
        uint32_t src = (198u << 24 | 19u << 16 | 253u << 8) + (uint32_t)(i + 1);
        syn(src, (uint16_t)(30000 + k / slow_gap));
        if (k / slow_gap == 4) printf("SCAN 198.19.253.%ld %.0f\n", i + 1, now_ms(CLOCK_REALTIME));
      }
    }
    fflush(stdout);
    next.tv_nsec += 1000000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  printf("LATE %.1f %ld\n", late_max, late_ticks);
  printf("SENT %lu\n", sent);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("CPU %lld %lld\n", (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec, (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
  return 0;
}
