/* ckpt_lock.c — one job at a time per checkpoint root.
 *
 * Two jobs writing the same root interleave shards and indexes and both end
 * with misleading checksum errors. The first job takes an exclusive flock(2)
 * on root/.lock and keeps it for its whole life; the kernel drops it when the
 * process ends, however it ends (kill -9, node reboot of a local disk), so a
 * dead job never leaves a lock behind — only the file, whose text is then
 * just a note of who held it last. The text, "job J host H pid P\n", lets a
 * second job say who is in the way. This library only reports; the caller
 * decides what a busy root means (the trainer: a config error, exit 2). */
#include "zt_ckpt.h"

#include <errno.h>      /* errno, EWOULDBLOCK */
#include <fcntl.h>      /* open, O_CLOEXEC */
#include <limits.h>     /* PATH_MAX */
#include <stdio.h>      /* snprintf, sscanf */
#include <string.h>     /* strerror, strlen */
#include <sys/file.h>   /* flock */
#include <sys/stat.h>   /* mkdir, stat */
#include <unistd.h>     /* gethostname, getpid, pwrite, ftruncate */

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

int zt_ck_mkdir_p(const char *path, char *err, size_t errlen) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%.200s...: path too long", path); return -1;
    }
    /* each prefix; EEXIST is fine (ranks and jobs race here) */
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) goto fail;
    struct stat st;
    if (stat(path, &st) < 0) goto fail;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; snprintf(tmp, sizeof tmp, "%s", path); goto fail; }
    return 0;
fail:
    snprintf(err, errlen, "cannot create directory %s: %s", tmp, strerror(errno));
    return -1;
}

/* Whatever the holder wrote; "?" for what cannot be read (it may be writing). */
static void read_holder(int fd, zt_ck_lock_holder *h) {
    char buf[512] = "";
    snprintf(h->job, sizeof h->job, "?");
    snprintf(h->host, sizeof h->host, "?");
    h->pid = -1;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return;
    buf[n] = 0;
    char job[64], host[256]; long pid;
    if (sscanf(buf, "job %63s host %255s pid %ld", job, host, &pid) == 3) {
        snprintf(h->job, sizeof h->job, "%s", job);
        snprintf(h->host, sizeof h->host, "%s", host);
        h->pid = pid;
    }
}

int zt_ck_lock(const char *root, const char *job, zt_ck_lock_holder *holder, char *err, size_t errlen) {
    char path[PATH_MAX];
    if (zt_ck_mkdir_p(root, err, errlen)) return -1;
    if (snprintf(path, sizeof path, "%s/" ZT_CK_LOCK_FILE, root) >= (int)sizeof path) {
        snprintf(err, errlen, "%.200s...: path too long", root); return -1;
    }
    /* O_CLOEXEC: a program we exec must not inherit (and outlive us with) the lock */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)); return -1; }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            if (holder) read_holder(fd, holder);
            close(fd);
            snprintf(err, errlen, "%s is locked by another process", path);
            return ZT_CK_LOCK_BUSY;
        }
        close(fd);
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        return -1;
    }
    char host[256] = "?", line[512];
    gethostname(host, sizeof host - 1);
    int n = snprintf(line, sizeof line, "job %s host %s pid %ld\n", job && *job ? job : "-", host, (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void zt_ck_unlock(int fd) {
    if (fd >= 0) close(fd);   /* closing the only descriptor drops the flock */
}
