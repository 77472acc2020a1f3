/*
 * The soak bench's feed for fail2ban: copies the kernel's firewall records from /dev/kmsg to a file,
 * one line each as rsyslog writes /var/log/ufw.log ("Dec  6 10:31:02 HOST kernel: [ 1234.567890] [UFW
 * BLOCK] ..."), so fail2ban reads the same records Portcullis reads. Reads from the ring's end at
 * start, non-blocking, flushing the file whenever the ring is drained (and at least every 50 ms).
 * Raises its own priority as Portcullis's reader thread does, so both see every record.
 *
 *   kmsg-to-file OUT HOST     stops on SIGTERM/SIGINT; prints "COPIED n LOST m" to stdout
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: kmsg-to-file OUT HOST\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  setpriority(PRIO_PROCESS, 0, -10);
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    perror("/dev/kmsg");
    return 1;
  }
  lseek(fd, 0, SEEK_END);
  FILE *out = fopen(argv[1], "a");
  if (!out) {
    perror(argv[1]);
    return 1;
  }
  setvbuf(out, NULL, _IOFBF, 1 << 20);
  static char buf[8192];
  unsigned long copied = 0, lost = 0;
  long long last_seq = -1;
  double flushed = mono_ms();
  while (!stop) {
    ssize_t r = read(fd, buf, sizeof buf - 1);
    if (r < 0) {
      if (errno == EAGAIN) {
        fflush(out);
        flushed = mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 200);
        continue;
      }
      if (errno == EPIPE || errno == EINTR) continue;
      perror("read");
      break;
    }
    buf[r] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    char *semi = strchr(buf, ';');
    if (!semi) continue;
    /* prio,seq,usec,flags;message */
    char *end;
    long prio = strtol(buf, &end, 10);
    long long seq = strtoll(end + 1, &end, 10);
    unsigned long long usec = strtoull(end + 1, &end, 10);
    if (last_seq >= 0 && seq > last_seq + 1) lost += (unsigned long)(seq - last_seq - 1);
    last_seq = seq;
    if ((prio >> 3) != 0 || strncmp(semi + 1, "[UFW ", 5) != 0) continue;
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    fprintf(out, "%s %s kernel: [%5llu.%06llu] %s\n", stamp, argv[2], usec / 1000000, usec % 1000000, semi + 1);
    copied++;
    if ((copied & 255) == 0 && mono_ms() - flushed > 50) {
      fflush(out);
      flushed = mono_ms();
    }
  }
  fflush(out);
  printf("COPIED %lu LOST %lu\n", copied, lost);
  return 0;
}
