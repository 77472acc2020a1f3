/*
 * The soak bench's plain /dev/kmsg counter (SOAK_NFLOG with SOAK_NFLOG_PLAIN=1: instead of the runner,
 * for the NFLOG experiment of issue 16 item 1): reads the kernel's ring from its end in a tight loop of
 * blocking reads at nice -10 (as Portcullis's reading thread does), and counts records and the
 * sequence numbers the ring overwrote before they were read. No parsing beyond what counting needs:
 * the cheapest reader of /dev/kmsg there can be, so its losses are the ring's, not a reader's.
 *
 *   kmsg-count [SAMPLES_FILE]
 *
 * SAMPLES_FILE gets "SRC DPT ID RECV_US" (CLOCK_MONOTONIC µs) for "[UFW BLOCK]" records whose SRC
 * ends in 0 mod 16 (the sample nflog-count.c writes too), for a join on SRC, DPT and IP ID: the packet's
 * send time comes from nflog-count's sample (the generator's stamp in the TCP sequence number).
 * Stops on SIGTERM/SIGINT; prints "KMSG records N ufw U lost L cpu_us USER SYS".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  FILE *samples = argc > 1 ? fopen(argv[1], "w") : NULL;
  if (argc > 1 && !samples) {
    perror(argv[1]);
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocking read() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  setpriority(PRIO_PROCESS, 0, -10);
  int fd = open("/dev/kmsg", O_RDONLY);
  if (fd < 0) {
    perror("/dev/kmsg");
    return 1;
  }
  lseek(fd, 0, SEEK_END);
  static char buf[8192];
  unsigned long records = 0, ufw = 0, lost = 0;
  long long last_seq = -1;
  while (!stop) {
    ssize_t r = read(fd, buf, sizeof buf - 1);
    if (r < 0) {
      if (errno == EPIPE || errno == EINTR) continue;
      perror("read");
      break;
    }
    buf[r] = 0;
    char *semi = strchr(buf, ';');
    if (!semi) continue;
    char *end;
    long prio = strtol(buf, &end, 10);
    long long seq = strtoll(end + 1, &end, 10);
    if (last_seq >= 0 && seq > last_seq + 1) lost += (unsigned long)(seq - last_seq - 1);
    last_seq = seq;
    records++;
    if ((prio >> 3) != 0 || strncmp(semi + 1, "[UFW ", 5) != 0) continue;
    ufw++;
    if (samples && strncmp(semi + 1, "[UFW BLOCK]", 11) == 0) {
      char *s = strstr(semi, " SRC="), *d = strstr(semi, " DPT="), *id = strstr(semi, " ID=");
      if (!s || !d || !id) continue;
      unsigned a, b, c, e;
      if (sscanf(s + 5, "%u.%u.%u.%u", &a, &b, &c, &e) != 4 || (e & 15) != 0) continue;
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      fprintf(samples, "%u.%u.%u.%u %ld %ld %llu\n", a, b, c, e, strtol(d + 5, NULL, 10), strtol(id + 4, NULL, 10), (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
    }
  }
  if (samples) fclose(samples);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("KMSG records %lu ufw %lu lost %lu cpu_us %lld %lld\n", records, ufw, lost, (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec, (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
  return 0;
}
