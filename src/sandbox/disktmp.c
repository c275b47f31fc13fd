/* A disk-backed /tmp for a sandbox (sandbox_int.h): a sparse image file of the requested size,
 * formatted ext4 by mke2fs, attached to a free loop device with autoclear, and mounted as a
 * detached mount (fsopen/fsmount) that the child moves onto /tmp. Lambda's /tmp is storage, not
 * memory: a tmpfs would charge every page written to the function's memory cgroup (with swap
 * off it cannot be reclaimed), so a 128 MB function could never fill a 512 MB /tmp. Pages
 * written here are page cache, reclaimable by writeback under the memory limit.
 *
 * Nothing outlives the sandbox: the image is unlinked as soon as the loop device holds it, the
 * loop device lets go when its last user (the mount) goes, and the mount goes with the
 * sandbox's mount namespace. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/random.h"
#include "sandbox/sandbox_int.h"

#define MKE2FS "/usr/sbin/mke2fs"

extern char **environ;

/* The new mount API through syscall(2): glibc 2.36 has no wrappers for these. */
static int sys_fsopen(const char *fs, unsigned flags) { return (int)syscall(SYS_fsopen, fs, flags); }
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
  return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static int sys_fsmount(int fd, unsigned flags, unsigned attrs) {
  return (int)syscall(SYS_fsmount, fd, flags, attrs);
}

/* mke2fs on the image: no journal (scratch space), no reserved blocks, lazy init (fast). */
static int format(const char *image, ll_err_t *err) {
  char *const argv[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-m", "0",
                        "-E", "nodiscard,lazy_itable_init=1", (char *)image, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, MKE2FS, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return ll_err_set(err, rc, "running " MKE2FS ": %s", strerror(rc));
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return ll_err_set(err, errno, "waiting for mke2fs: %s", strerror(errno));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return ll_err_set(err, EIO, MKE2FS " failed on %s (status %d)", image, st);
  return 0;
}

/* Attaches the image (fd) to a free loop device with autoclear; its fd, or -1 with err. */
static int attach(int image_fd, ll_err_t *err) {
  int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) return ll_err_set(err, errno, "opening /dev/loop-control: %s", strerror(errno));
  for (int tries = 0; tries < 16; tries++) {
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) {
      int e = errno;
      close(ctl);
      return ll_err_set(err, e, "no free loop device: %s", strerror(e));
    }
    char dev[32];
    snprintf(dev, sizeof dev, "/dev/loop%d", n);
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue; /* not made yet, or gone: ask again */
    struct loop_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fd = (unsigned)image_fd;
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
      close(ctl);
      return fd;
    }
    int e = errno;
    close(fd);
    if (e != EBUSY) { /* EBUSY: another process took it first */
      close(ctl);
      return ll_err_set(err, e, "configuring %s: %s", dev, strerror(e));
    }
  }
  close(ctl);
  return ll_err_set(err, EBUSY, "every free loop device was taken meanwhile");
}

int ll__disk_tmp(const char *dir, uint64_t bytes, int *mnt_out, ll_err_t *err) {
  *mnt_out = -1;
  char id[17], image[4096];
  ll_random_hex(id, 8);
  snprintf(image, sizeof image, "%s/tmp-%s.img", dir, id);
  int img = open(image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (img < 0) return ll_err_set(err, errno, "creating %s: %s", image, strerror(errno));
  int rc = -1, loop = -1, fs = -1;
  if (ftruncate(img, (off_t)bytes) < 0) {
    ll_err_set(err, errno, "sizing %s: %s", image, strerror(errno));
    goto out;
  }
  if (format(image, err) < 0 || (loop = attach(img, err)) < 0) goto out;
  char dev[64];
  struct loop_info64 li;
  if (ioctl(loop, LOOP_GET_STATUS64, &li) < 0) {
    ll_err_set(err, errno, "reading the loop device: %s", strerror(errno));
    goto out;
  }
  snprintf(dev, sizeof dev, "/dev/loop%u", li.lo_number);
  fs = sys_fsopen("ext4", FSOPEN_CLOEXEC);
  if (fs < 0 || sys_fsconfig(fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
      sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    ll_err_set(err, errno, "mounting ext4 from %s: %s", dev, strerror(errno));
    goto out;
  }
  int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (mnt < 0) {
    ll_err_set(err, errno, "fsmount of %s: %s", dev, strerror(errno));
    goto out;
  }
  /* /tmp as Lambda has it: empty, world-writable with the sticky bit */
  int root = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0 || fchmod(root, 01777) < 0) {
    ll_err_set(err, errno, "preparing the new /tmp: %s", strerror(errno));
    if (root >= 0) close(root);
    close(mnt);
    goto out;
  }
  unlinkat(root, "lost+found", AT_REMOVEDIR);
  close(root);
  *mnt_out = mnt;
  rc = 0;
out:
  if (fs >= 0) close(fs);
  if (loop >= 0) close(loop); /* the mount holds the device now (autoclear frees it after) */
  close(img);
  unlink(image);
  return rc;
}
