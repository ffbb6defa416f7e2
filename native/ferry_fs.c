/*
 * ferry_fs: the few POSIX calls a restore needs that Node 20's fs lacks.
 *
 *   utimensat(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec, noFollow)  nanosecond times (fs.utimes rounds
 *                                                                       through a double)
 *   mknod(path, mode, dev)                                               sockets and device nodes
 *   mkfifo(path, mode)                                                   named pipes
 *   llistxattr(path)                 -> Buffer[]                          extended attribute names, raw bytes
 *   lgetxattr(path, name)            -> Buffer                            one attribute's value
 *   lsetxattr(path, name, value)                                          sets (creates or replaces) one
 *   scanDirectory(fd, wantXattrs)    -> Promise                           a directory's entries with their lstat,
 *                                                                       for the backup's walk (the one
 *                                                                       asynchronous call: see its block)
 *
 * and two helpers of the backup's hot path, which are no system calls (see their comments below):
 *
 *   gearScan(buf, gear, h, i, end, mask) -> number   FastCDC's inner loop (src/engine/chunker/gear-scan.ts)
 *   copyBytes(target, targetOffset, source)          memmove between Uint8Arrays, shared memory included
 *
 * and scrypt's inner part, scryptRomix (asynchronous; native/scrypt_romix.h), the writes that skip the
 * page cache (pwriteDirect, alignmentOf) and the backup's fused open and first read of a source file
 * (openRead): see their blocks.
 *
 * The xattr calls never follow a symlink at the end of the path (the l* variants): a symlink's own
 * attributes are read and written. They exist on Linux only; elsewhere they throw ENOTSUP.
 *
 * Every function is synchronous and returns undefined unless shown otherwise. Paths are Buffers holding the raw bytes of the
 * name (names need not be UTF-8); a path containing a NUL byte is rejected with a TypeError. A failing
 * system call throws an Error shaped like Node's system errors: `code` is the errno name ("ENOENT"),
 * `errno` the negated errno number (as Node reports it), `syscall` and `path` (decoded lossily as UTF-8).
 */
#define _GNU_SOURCE /* strerrorname_np (glibc >= 2.32) */
#define NAPI_VERSION 8

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#ifdef __linux__
#include <sys/xattr.h>
#endif

#include <node_api.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define FERRY_HAVE_STRERRORNAME_NP 1
#endif

/* Returns NULL after an exception has been thrown; every caller returns NULL straight away then. */
#define CHECK_NAPI(env, call)                                                                   \
  do {                                                                                          \
    if ((call) != napi_ok) {                                                                    \
      throw_last_napi_error(env);                                                               \
      return NULL;                                                                              \
    }                                                                                           \
  } while (0)

static void throw_last_napi_error(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  const char *message = "N-API call failed";
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL) {
    message = info->error_message;
  }
  napi_throw_error(env, NULL, message);
}

/* The symbolic name of an errno value; a table for C libraries without strerrorname_np. */
static const char *errno_name(int err) {
#ifdef FERRY_HAVE_STRERRORNAME_NP
  const char *name = strerrorname_np(err);
  if (name != NULL) return name;
#endif
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ETXTBSY: return "ETXTBSY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
#ifdef ENODATA
    case ENODATA: return "ENODATA";
#endif
#if defined(ENOATTR) && (!defined(ENODATA) || ENOATTR != ENODATA)
    case ENOATTR: return "ENOATTR";
#endif
#ifdef E2BIG
    case E2BIG: return "E2BIG";
#endif
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP: return "ENOTSUP";
#endif
#ifdef EDQUOT
    case EDQUOT: return "EDQUOT";
#endif
    default: return "UNKNOWN";
  }
}

static napi_status set_string_property(napi_env env, napi_value object, const char *key, const char *value,
                                       size_t length) {
  napi_value js_value;
  napi_status status = napi_create_string_utf8(env, value, length, &js_value);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, object, key, js_value);
}

/* Throws an Error like Node's: "ENOENT: No such file or directory, mknod '/a/b'" with code/errno/syscall/path. */
static void throw_errno(napi_env env, int err, const char *syscall, const char *path, size_t path_length) {
  const char *code = errno_name(err);
  const char *description = strerror(err);
  /* The message shows the path lossily; keep it bounded so a huge name cannot make a huge message. */
  int shown = path_length > 4096 ? 4096 : (int)path_length;
  size_t capacity = strlen(code) + strlen(description) + strlen(syscall) + (size_t)shown + 16;
  char *message = malloc(capacity);
  if (message == NULL) {
    napi_throw_error(env, code, description);
    return;
  }
  snprintf(message, capacity, "%s: %s, %s '%.*s'", code, description, syscall, shown, path);

  napi_value js_code, js_message, error, js_errno;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message) != napi_ok ||
      napi_create_error(env, js_code, js_message, &error) != napi_ok ||
      napi_create_int32(env, -err, &js_errno) != napi_ok ||
      napi_set_named_property(env, error, "errno", js_errno) != napi_ok ||
      set_string_property(env, error, "syscall", syscall, NAPI_AUTO_LENGTH) != napi_ok ||
      set_string_property(env, error, "path", path, path_length) != napi_ok) {
    free(message);
    throw_last_napi_error(env);
    return;
  }
  free(message);
  napi_throw(env, error);
}

static void throw_type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
}

/*
 * Copies the Buffer argument into a fresh NUL-terminated string (free it with free()). Returns NULL with
 * an exception pending when the argument is not a Buffer or contains a NUL byte.
 */
static char *string_argument(napi_env env, napi_value value, size_t *length_out, const char *not_buffer,
                             const char *has_nul) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) {
    throw_type_error(env, not_buffer);
    return NULL;
  }
  void *data = NULL;
  size_t length = 0;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok) {
    throw_last_napi_error(env);
    return NULL;
  }
  if (length > 0 && memchr(data, 0, length) != NULL) {
    throw_type_error(env, has_nul);
    return NULL;
  }
  char *path = malloc(length + 1);
  if (path == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory copying a path");
    return NULL;
  }
  if (length > 0) memcpy(path, data, length);
  path[length] = '\0';
  *length_out = length;
  return path;
}

static char *path_argument(napi_env env, napi_value value, size_t *length_out) {
  return string_argument(env, value, length_out, "path must be a Buffer", "path must not contain a NUL byte");
}

static bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (argc < expected) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "too few arguments");
    return false;
  }
  return true;
}

static bool expect_type(napi_env env, napi_value value, napi_valuetype wanted, const char *message) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (type != wanted) {
    throw_type_error(env, message);
    return false;
  }
  return true;
}

static bool int64_from_bigint(napi_env env, napi_value value, int64_t *out, const char *message) {
  if (!expect_type(env, value, napi_bigint, message)) return false;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, value, out, &lossless) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (!lossless) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  return true;
}

static bool uint64_from_bigint(napi_env env, napi_value value, uint64_t *out, const char *message) {
  if (!expect_type(env, value, napi_bigint, message)) return false;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, value, out, &lossless) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (!lossless) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  return true;
}

/* An integral number in [min, max]. */
static bool integer_from_number(napi_env env, napi_value value, double min, double max, int64_t *out,
                                const char *message) {
  if (!expect_type(env, value, napi_number, message)) return false;
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (!(number >= min && number <= max) || number != (double)(int64_t)number) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (int64_t)number;
  return true;
}

static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;

  int64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
  if (!int64_from_bigint(env, argv[1], &atime_sec, "atimeSec must be a bigint fitting in 64 bits")) return NULL;
  if (!integer_from_number(env, argv[2], 0, 999999999, &atime_nsec, "atimeNsec must be an integer in [0, 1e9)"))
    return NULL;
  if (!int64_from_bigint(env, argv[3], &mtime_sec, "mtimeSec must be a bigint fitting in 64 bits")) return NULL;
  if (!integer_from_number(env, argv[4], 0, 999999999, &mtime_nsec, "mtimeNsec must be an integer in [0, 1e9)"))
    return NULL;
  if (!expect_type(env, argv[5], napi_boolean, "noFollow must be a boolean")) return NULL;
  bool no_follow = false;
  CHECK_NAPI(env, napi_get_value_bool(env, argv[5], &no_follow));
  if ((int64_t)(time_t)atime_sec != atime_sec || (int64_t)(time_t)mtime_sec != mtime_sec) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "time does not fit in time_t");
    return NULL;
  }

  size_t path_length = 0;
  char *path = path_argument(env, argv[0], &path_length);
  if (path == NULL) return NULL;

  struct timespec times[2];
  times[0].tv_sec = (time_t)atime_sec;
  times[0].tv_nsec = (long)atime_nsec;
  times[1].tv_sec = (time_t)mtime_sec;
  times[1].tv_nsec = (long)mtime_nsec;
  if (utimensat(AT_FDCWD, path, times, no_follow ? AT_SYMLINK_NOFOLLOW : 0) != 0) {
    throw_errno(env, errno, "utimensat", path, path_length);
  }
  free(path);
  return NULL;
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;

  int64_t mode;
  uint64_t dev;
  if (!integer_from_number(env, argv[1], 0, 4294967295.0, &mode, "mode must be an unsigned 32-bit integer"))
    return NULL;
  if (!uint64_from_bigint(env, argv[2], &dev, "dev must be a non-negative bigint fitting in 64 bits")) return NULL;
  if ((uint64_t)(dev_t)dev != dev) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "dev does not fit in dev_t");
    return NULL;
  }

  size_t path_length = 0;
  char *path = path_argument(env, argv[0], &path_length);
  if (path == NULL) return NULL;

  if (mknod(path, (mode_t)mode, (dev_t)dev) != 0) {
    throw_errno(env, errno, "mknod", path, path_length);
  }
  free(path);
  return NULL;
}

static napi_value js_mkfifo(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;

  int64_t mode;
  if (!integer_from_number(env, argv[1], 0, 4294967295.0, &mode, "mode must be an unsigned 32-bit integer"))
    return NULL;

  size_t path_length = 0;
  char *path = path_argument(env, argv[0], &path_length);
  if (path == NULL) return NULL;

  if (mkfifo(path, (mode_t)mode) != 0) {
    throw_errno(env, errno, "mkfifo", path, path_length);
  }
  free(path);
  return NULL;
}

/* Largest attribute list and value the kernel hands out (XATTR_LIST_MAX, XATTR_SIZE_MAX). */
#define FERRY_XATTR_MAX 65536

#ifdef __linux__
/*
 * Runs a list/get call that fills a buffer, sizing the buffer with a first call and retrying when the
 * attribute grew in between (ERANGE). Returns the byte count and a malloc'ed buffer (NULL when 0 bytes),
 * or -1 with errno set.
 */
static ssize_t sized_call(ssize_t (*call)(const char *, const char *, void *, size_t), const char *path,
                          const char *name, char **out) {
  *out = NULL;
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = call(path, name, NULL, 0);
    if (size <= 0) return size;
    char *buffer = malloc((size_t)size);
    if (buffer == NULL) {
      errno = ENOMEM;
      return -1;
    }
    ssize_t got = call(path, name, buffer, (size_t)size);
    if (got >= 0) {
      *out = buffer;
      return got;
    }
    int err = errno;
    free(buffer);
    if (err != ERANGE) {
      errno = err;
      return -1;
    }
  }
  errno = ERANGE;
  return -1;
}

static ssize_t list_call(const char *path, const char *unused, void *buffer, size_t size) {
  (void)unused;
  return llistxattr(path, buffer, size);
}

static ssize_t get_call(const char *path, const char *name, void *buffer, size_t size) {
  return lgetxattr(path, name, buffer, size);
}
#endif

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  size_t path_length = 0;
  char *path = path_argument(env, argv[0], &path_length);
  if (path == NULL) return NULL;
#ifdef __linux__
  char *names = NULL;
  ssize_t size = sized_call(list_call, path, NULL, &names);
  if (size < 0) {
    throw_errno(env, errno, "llistxattr", path, path_length);
    free(path);
    return NULL;
  }
  free(path);
  napi_value result;
  if (napi_create_array(env, &result) != napi_ok) {
    free(names);
    throw_last_napi_error(env);
    return NULL;
  }
  /* The list is NUL-terminated names one after another. */
  uint32_t index = 0;
  for (ssize_t at = 0; at < size;) {
    size_t length = strnlen(names + at, (size_t)(size - at));
    napi_value name;
    if (length > 0 && (napi_create_buffer_copy(env, length, names + at, NULL, &name) != napi_ok ||
                       napi_set_element(env, result, index++, name) != napi_ok)) {
      free(names);
      throw_last_napi_error(env);
      return NULL;
    }
    at += (ssize_t)length + 1;
  }
  free(names);
  return result;
#else
  throw_errno(env, ENOTSUP, "llistxattr", path, path_length);
  free(path);
  return NULL;
#endif
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  size_t path_length = 0, name_length = 0;
  char *path = path_argument(env, argv[0], &path_length);
  if (path == NULL) return NULL;
  char *name = string_argument(env, argv[1], &name_length, "name must be a Buffer", "name must not contain a NUL byte");
  if (name == NULL) {
    free(path);
    return NULL;
  }
#ifdef __linux__
  char *value = NULL;
  ssize_t size = sized_call(get_call, path, name, &value);
  free(name);
  if (size < 0) {
    throw_errno(env, errno, "lgetxattr", path, path_length);
    free(path);
    return NULL;
  }
  free(path);
  napi_value result;
  napi_status status = napi_create_buffer_copy(env, (size_t)size, size > 0 ? value : "", NULL, &result);
  free(value);
  CHECK_NAPI(env, status);
  return result;
#else
  free(name);
  throw_errno(env, ENOTSUP, "lgetxattr", path, path_length);
  free(path);
  return NULL;
#endif
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  bool is_buffer = false;
  void *value = NULL;
  size_t value_length = 0;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer) {
    throw_type_error(env, "value must be a Buffer");
    return NULL;
  }
  CHECK_NAPI(env, napi_get_buffer_info(env, argv[2], &value, &value_length));
  if (value_length > FERRY_XATTR_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "value must be at most 64 KiB");
    return NULL;
  }
  size_t path_length = 0, name_length = 0;
  char *path = path_argument(env, argv[0], &path_length);
  if (path == NULL) return NULL;
  char *name = string_argument(env, argv[1], &name_length, "name must be a Buffer", "name must not contain a NUL byte");
  if (name == NULL) {
    free(path);
    return NULL;
  }
#ifdef __linux__
  if (lsetxattr(path, name, value_length > 0 ? value : "", value_length, 0) != 0) {
    throw_errno(env, errno, "lsetxattr", path, path_length);
  }
#else
  throw_errno(env, ENOTSUP, "lsetxattr", path, path_length);
#endif
  free(name);
  free(path);
  return NULL;
}

/* Fixes glibc's mmap threshold (allocations from this size get their own mapping, returned to the system
 * when freed). glibc otherwise raises the threshold up to 32 MiB after large frees, so the multi-MiB
 * buffers of a backup end up in per-thread arenas that keep their pages. Returns false elsewhere. */
static napi_value js_set_mmap_threshold(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t bytes;
  if (!integer_from_number(env, argv[0], 4096.0, 33554432.0, &bytes, "the threshold must be 4 KiB to 32 MiB"))
    return NULL;
  bool done = false;
#ifdef __GLIBC__
  done = mallopt(M_MMAP_THRESHOLD, (int)bytes) == 1;
#endif
  napi_value result;
  CHECK_NAPI(env, napi_get_boolean(env, done, &result));
  return result;
}

/* ---- Jobs on libuv's thread pool: what the asynchronous calls below share -------------------------- */

/*
 * The N-API side of a call run on libuv's thread pool: its work, its promise, and a reference to the
 * JavaScript value whose memory the job uses (kept alive until the promise settles). Every asynchronous
 * call's job embeds one as `async`.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref keep;
} async_job;

/*
 * Queues `job` (its execute and complete callbacks get `data`) and returns its promise; `keep`, when not
 * NULL, stays referenced until the job settles. NULL with an exception pending when N-API fails: the caller
 * then frees its job (the promise, if made, stays pending; the caller sees the exception instead).
 */
static napi_value start_job(napi_env env, async_job *job, void *data, const char *name, napi_value keep,
                            napi_async_execute_callback execute, napi_async_complete_callback complete) {
  napi_value promise, resource_name;
  if (keep != NULL && napi_create_reference(env, keep, 1, &job->keep) != napi_ok) {
    throw_last_napi_error(env);
    return NULL;
  }
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute, complete, data, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    if (job->keep != NULL) napi_delete_reference(env, job->keep);
    throw_last_napi_error(env);
    return NULL;
  }
  return promise;
}

/*
 * Settles a job's promise: resolves it with `value`, or rejects it with `value` when `rejected`. A NULL
 * value (N-API failed making it, or the work was cancelled) rejects with the pending exception, else with
 * `failure`. Then releases the job's N-API parts; the caller frees the rest.
 */
static void settle_job(napi_env env, async_job *job, napi_value value, bool rejected, const char *failure) {
  if (value == NULL) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &value);
    if (value == NULL) {
      napi_value message;
      napi_create_string_utf8(env, failure, NAPI_AUTO_LENGTH, &message);
      napi_create_error(env, NULL, message, &value);
    }
    rejected = true;
  }
  if (rejected) napi_reject_deferred(env, job->deferred, value);
  else napi_resolve_deferred(env, job->deferred, value);
  if (job->keep != NULL) napi_delete_reference(env, job->keep);
  napi_delete_async_work(env, job->work);
}

/* ---- Directory scans for the backup's walk ----------------------------------------------------------- */
/*
 * scanDirectory(fd, wantXattrs) -> Promise<[names: Buffer, stats: ArrayBuffer]>
 *
 * Runs on libuv's thread pool, so several directories can be scanned at once (a cold walk keeps the disk
 * busy with several inode reads instead of waiting for each in turn). Lists the open directory `fd`
 * (without "." and ".."), sorts the names by bytes, and fstatat()s each entry relative to `fd` without
 * following a symlink. With `wantXattrs` it also asks whether the entry has extended attributes
 * (listxattrat(2), Linux 6.13+; before that llistxattr through /proc/self/fd/N/name), so the caller reads
 * them only for the entries that have some.
 *
 * names: the names one after another, without separators. stats: SCAN_SLOTS 8-byte slots per entry (see
 * scan_slot); slots 0-4 are 64-bit integers (read them through a BigInt64Array / BigUint64Array), the rest
 * doubles; NAME_LENGTH is the entry's name length in `names`, set also when the entry could not be stat()ed.
 * An entry that could not be stat()ed has its errno in the STATUS slot (the caller asks again itself, to
 * get a proper error); XATTRS is 0 when the entry has none (or the file system supports none), else 1
 * (some, or the question failed: the caller reads them itself and reports what goes wrong).
 * The descriptor must stay open until the promise settles. Failing to read the directory rejects with an
 * Error carrying code, errno and syscall like Node's.
 */
enum scan_slot {
  SCAN_DEV, SCAN_INO, SCAN_MTIME_NS, SCAN_CTIME_NS, SCAN_RDEV, /* 64-bit integers */
  SCAN_SIZE, SCAN_MODE, SCAN_NLINK, SCAN_UID, SCAN_GID, SCAN_STATUS, SCAN_XATTRS, SCAN_NAME_LENGTH, /* doubles */
  SCAN_SLOTS
};

#include <dirent.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#ifndef FERRY_NR_LISTXATTRAT
#define FERRY_NR_LISTXATTRAT 465 /* the same number on every architecture since Linux 6.13 */
#endif
/* 0 unknown, 1 listxattrat works, -1 it does not exist here. */
static volatile int listxattrat_state = 0;
#else
#include <unistd.h>
#endif

typedef struct {
  int fd;
  bool want_xattrs;
  int error;             /* errno of reading the directory, 0 when it was read */
  const char *syscall;   /* the call that failed */
  char *names;           /* NUL-terminated names, one after another */
  size_t names_length;
  size_t count;
  size_t *offsets;       /* each name's offset in `names`, in directory order */
  char **entries;        /* the names, sorted */
  unsigned char *stats;  /* count * SCAN_SLOTS * 8 bytes */
  async_job async;
} scan_job;

static int scan_compare(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 0 when the entry has no extended attributes (or none can exist), 1 when it has some or we cannot tell. */
static double scan_has_xattrs(int fd, const char *name) {
#ifdef __linux__
  ssize_t size = -1;
  int err = ENOSYS;
  if (listxattrat_state >= 0) {
    size = syscall(FERRY_NR_LISTXATTRAT, fd, name, AT_SYMLINK_NOFOLLOW, NULL, (size_t)0);
    err = size < 0 ? errno : 0;
    if (size >= 0) listxattrat_state = 1;
    else if (err == ENOSYS && listxattrat_state == 0) listxattrat_state = -1;
  }
  if (size < 0 && err == ENOSYS) {
    char path[64 + 256];
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", fd, name);
    size = llistxattr(path, NULL, 0);
    err = size < 0 ? errno : 0;
  }
  if (size == 0) return 0;
  if (size < 0 && (err == ENOTSUP || err == EOPNOTSUPP)) return 0;
  return 1;
#else
  (void)fd;
  (void)name;
  return 0;
#endif
}

static void scan_fail(scan_job *job, const char *syscall_name) {
  job->error = errno != 0 ? errno : EIO;
  job->syscall = syscall_name;
}

static void scan_execute(napi_env env, void *data) {
  (void)env;
  scan_job *job = data;
  int dir_fd = openat(job->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    scan_fail(job, "scandir");
    return;
  }
  DIR *dir = fdopendir(dir_fd);
  if (dir == NULL) {
    int err = errno;
    close(dir_fd);
    errno = err;
    scan_fail(job, "scandir");
    return;
  }
  size_t capacity = 4096, offsets_capacity = 64;
  job->names = malloc(capacity);
  job->offsets = malloc(offsets_capacity * sizeof(size_t));
  if (job->names == NULL || job->offsets == NULL) {
    closedir(dir);
    errno = ENOMEM;
    scan_fail(job, "scandir");
    return;
  }
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (entry == NULL) {
      if (errno != 0) {
        int err = errno;
        closedir(dir);
        errno = err;
        scan_fail(job, "scandir");
        return;
      }
      break;
    }
    const char *name = entry->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    size_t length = strlen(name) + 1;
    if (job->names_length + length > capacity || job->count == offsets_capacity) {
      while (job->names_length + length > capacity) capacity *= 2;
      if (job->count == offsets_capacity) offsets_capacity *= 2;
      char *names = realloc(job->names, capacity);
      if (names != NULL) job->names = names;
      size_t *offsets = realloc(job->offsets, offsets_capacity * sizeof(size_t));
      if (offsets != NULL) job->offsets = offsets;
      if (names == NULL || offsets == NULL) {
        closedir(dir);
        errno = ENOMEM;
        scan_fail(job, "scandir");
        return;
      }
    }
    memcpy(job->names + job->names_length, name, length);
    job->offsets[job->count++] = job->names_length;
    job->names_length += length;
  }
  closedir(dir);

  /* Sorted by name bytes (strcmp compares as unsigned char), as trees store them. */
  job->entries = malloc((job->count > 0 ? job->count : 1) * sizeof(char *));
  if (job->entries == NULL) {
    errno = ENOMEM;
    scan_fail(job, "scandir");
    return;
  }
  for (size_t i = 0; i < job->count; i++) job->entries[i] = job->names + job->offsets[i];
  qsort(job->entries, job->count, sizeof(char *), scan_compare);

  job->stats = calloc(job->count > 0 ? job->count : 1, SCAN_SLOTS * 8);
  if (job->stats == NULL) {
    errno = ENOMEM;
    scan_fail(job, "scandir");
    return;
  }
  for (size_t i = 0; i < job->count; i++) {
    const char *name = job->entries[i];
    unsigned char *slots = job->stats + i * SCAN_SLOTS * 8;
    struct stat st;
    double status = 0, name_length = (double)strlen(name);
    memcpy(slots + SCAN_NAME_LENGTH * 8, &name_length, 8);
    if (fstatat(job->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = errno != 0 ? errno : EIO;
      memcpy(slots + SCAN_STATUS * 8, &status, 8);
      continue;
    }
    uint64_t dev = (uint64_t)st.st_dev, ino = (uint64_t)st.st_ino, rdev = (uint64_t)st.st_rdev;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    int64_t ctime = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    double numbers[SCAN_NAME_LENGTH - SCAN_SIZE] = {
        (double)st.st_size, (double)st.st_mode, (double)st.st_nlink, (double)st.st_uid, (double)st.st_gid, 0,
        job->want_xattrs ? scan_has_xattrs(job->fd, name) : 0};
    memcpy(slots + SCAN_DEV * 8, &dev, 8);
    memcpy(slots + SCAN_INO * 8, &ino, 8);
    memcpy(slots + SCAN_MTIME_NS * 8, &mtime, 8);
    memcpy(slots + SCAN_CTIME_NS * 8, &ctime, 8);
    memcpy(slots + SCAN_RDEV * 8, &rdev, 8);
    memcpy(slots + SCAN_SIZE * 8, numbers, sizeof numbers);
  }
}

static void scan_free(scan_job *job) {
  free(job->names);
  free(job->offsets);
  free(job->entries);
  free(job->stats);
  free(job);
}

/* An Error for a failed asynchronous call (code, errno and syscall like Node's); NULL when N-API fails. */
static napi_value errno_error(napi_env env, int err, const char *syscall_name) {
  const char *code = errno_name(err);
  char message[256];
  snprintf(message, sizeof message, "%s: %s, %s", code, strerror(err), syscall_name);
  napi_value result, js_code, js_message, js_errno;
  CHECK_NAPI(env, napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code));
  CHECK_NAPI(env, napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message));
  CHECK_NAPI(env, napi_create_error(env, js_code, js_message, &result));
  CHECK_NAPI(env, napi_create_int32(env, -err, &js_errno));
  CHECK_NAPI(env, napi_set_named_property(env, result, "errno", js_errno));
  CHECK_NAPI(env, set_string_property(env, result, "syscall", syscall_name, NAPI_AUTO_LENGTH));
  return result;
}

/* The scan's outcome as JavaScript values; NULL with an exception pending when N-API fails. */
static napi_value scan_result(napi_env env, scan_job *job, bool *rejected) {
  if (job->error != 0) {
    *rejected = true;
    return errno_error(env, job->error, job->syscall);
  }
  *rejected = false;
  /* The names in sorted order, without their NUL bytes. */
  char *sorted = malloc(job->names_length > 0 ? job->names_length : 1);
  if (sorted == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory scanning a directory");
    return NULL;
  }
  size_t at = 0;
  for (size_t i = 0; i < job->count; i++) {
    size_t length = strlen(job->entries[i]);
    memcpy(sorted + at, job->entries[i], length);
    at += length;
  }
  napi_value names, stats, pair;
  void *stats_data = NULL;
  size_t stats_length = job->count * SCAN_SLOTS * 8;
  napi_status status = napi_create_buffer_copy(env, at, at > 0 ? sorted : "", NULL, &names);
  free(sorted);
  CHECK_NAPI(env, status);
  CHECK_NAPI(env, napi_create_arraybuffer(env, stats_length, &stats_data, &stats));
  if (stats_length > 0) memcpy(stats_data, job->stats, stats_length);
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &pair));
  CHECK_NAPI(env, napi_set_element(env, pair, 0, names));
  CHECK_NAPI(env, napi_set_element(env, pair, 1, stats));
  return pair;
}

static void scan_complete(napi_env env, napi_status status, void *data) {
  scan_job *job = data;
  bool rejected = false;
  napi_value value = status == napi_ok ? scan_result(env, job, &rejected) : NULL;
  settle_job(env, &job->async, value, rejected, "directory scan failed");
  scan_free(job);
}

static napi_value js_scan_directory(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  if (!integer_from_number(env, argv[0], 0, 2147483647.0, &fd, "fd must be a file descriptor")) return NULL;
  if (!expect_type(env, argv[1], napi_boolean, "wantXattrs must be a boolean")) return NULL;
  scan_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory scanning a directory");
    return NULL;
  }
  job->fd = (int)fd;
  if (napi_get_value_bool(env, argv[1], &job->want_xattrs) != napi_ok) {
    free(job);
    throw_last_napi_error(env);
    return NULL;
  }
  napi_value promise = start_job(env, &job->async, job, "ferry.scanDirectory", NULL, scan_execute, scan_complete);
  if (promise == NULL) free(job);
  return promise;
}
/* ---- end of directory scans ---------------------------------------------------------------------------- */

/* A Uint8Array (or any TypedArray: its bytes) argument: its data and length in bytes. */
static bool bytes_argument(napi_env env, napi_value value, uint8_t **data, size_t *length, const char *message) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (!is_typedarray) {
    throw_type_error(env, message);
    return false;
  }
  napi_typedarray_type type;
  size_t elements;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &type, &elements, &raw, NULL, NULL) != napi_ok) {
    throw_last_napi_error(env);
    return false;
  }
  if (type != napi_uint8_array) {
    throw_type_error(env, message);
    return false;
  }
  *data = raw;
  *length = elements;
  return true;
}

/* The gear hash's inner loop, the same contract as GearScanner in src/engine/chunker/gear-scan.ts (whose
 * scanBytes is the reference it is tested against): hashes buf[i], buf[i + 1], ... from state h with
 * h = (h << 1) + gear[byte] on 32 bits and returns the index just past the first byte after which
 * (h & mask) == 0, or -1 when no byte of [i, end) gives one. Arguments: a Uint8Array, an Int32Array of 256
 * entries, the int32 state, integers 0 <= i <= end <= buf.length and the int32 mask. Unsigned arithmetic
 * wraps like the JavaScript's `| 0`, so the states are the same bits. */
static napi_value js_gear_scan(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  uint8_t *buf;
  size_t length;
  if (!bytes_argument(env, argv[0], &buf, &length, "buf must be a Uint8Array")) return NULL;
  bool is_typedarray = false;
  CHECK_NAPI(env, napi_is_typedarray(env, argv[1], &is_typedarray));
  napi_typedarray_type gear_type = napi_uint8_array;
  size_t gear_entries = 0;
  void *gear_data = NULL;
  if (is_typedarray) CHECK_NAPI(env, napi_get_typedarray_info(env, argv[1], &gear_type, &gear_entries, &gear_data, NULL, NULL));
  if (!is_typedarray || gear_type != napi_int32_array || gear_entries != 256) {
    throw_type_error(env, "gear must be an Int32Array of 256 entries");
    return NULL;
  }
  int32_t h_signed, mask_signed;
  int64_t from, end;
  if (!expect_type(env, argv[2], napi_number, "h must be a number")) return NULL;
  CHECK_NAPI(env, napi_get_value_int32(env, argv[2], &h_signed));
  if (!integer_from_number(env, argv[3], 0, (double)length, &from, "i must be an integer in [0, buf.length]")) return NULL;
  if (!integer_from_number(env, argv[4], (double)from, (double)length, &end, "end must be an integer in [i, buf.length]"))
    return NULL;
  if (!expect_type(env, argv[5], napi_number, "mask must be a number")) return NULL;
  CHECK_NAPI(env, napi_get_value_int32(env, argv[5], &mask_signed));

  const uint32_t *gear = gear_data;
  const uint32_t mask = (uint32_t)mask_signed;
  uint32_t h = (uint32_t)h_signed;
  const uint8_t *p = buf + from;
  const uint8_t *stop = buf + end;
  int64_t found = -1;
  /* Unrolled by eight: the loop's compare and branch once per eight bytes; each byte still tests the mask. */
#define FERRY_GEAR_STEP(k)                   \
  h = (h << 1) + gear[p[k]];                 \
  if ((h & mask) == 0) {                     \
    found = (int64_t)(p - buf) + (k) + 1;    \
    goto done;                               \
  }
  while (stop - p >= 8) {
    FERRY_GEAR_STEP(0) FERRY_GEAR_STEP(1) FERRY_GEAR_STEP(2) FERRY_GEAR_STEP(3)
    FERRY_GEAR_STEP(4) FERRY_GEAR_STEP(5) FERRY_GEAR_STEP(6) FERRY_GEAR_STEP(7)
    p += 8;
  }
  while (p < stop) {
    FERRY_GEAR_STEP(0)
    p++;
  }
#undef FERRY_GEAR_STEP
done:;
  napi_value result;
  CHECK_NAPI(env, napi_create_double(env, (double)found, &result));
  return result;
}

/* copyBytes(target, targetOffset, source): copies all of source into target at targetOffset (memmove:
 * they may overlap). Both are Uint8Arrays; either may lie in a SharedArrayBuffer. For shared memory V8's
 * TypedArray.prototype.set (and Node 20's Buffer.copy, which calls it) copies with relaxed atomics, byte by
 * byte whenever source and target are not aligned alike, which is nearly always for chunks of arbitrary
 * length: about a quarter of memmove's speed, measured (the copy of every chunk into an encoder worker's
 * ring). The caller owns the race: nothing may write those bytes meanwhile. Throws a RangeError when
 * source does not fit. */
static napi_value js_copy_bytes(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  uint8_t *target, *source;
  size_t target_length, source_length;
  if (!bytes_argument(env, argv[0], &target, &target_length, "target must be a Uint8Array")) return NULL;
  if (!bytes_argument(env, argv[2], &source, &source_length, "source must be a Uint8Array")) return NULL;
  int64_t offset;
  if (!integer_from_number(env, argv[1], 0, (double)target_length, &offset, "targetOffset must be an integer in [0, target.length]"))
    return NULL;
  if (source_length > target_length - (size_t)offset) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "source does not fit in target at targetOffset");
    return NULL;
  }
  if (source_length > 0) memmove(target + offset, source, source_length);
  return NULL;
}

/* ---- Restore: calls on descriptors (issue 13, restore helper) ------------------------------------------
 *
 *   createat(dirFd, name, mode)      -> fd  openat(dirFd, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC,
 *                                           mode): a new file in an open directory, without resolving a
 *                                           /proc/self/fd/N/name path
 *   unlinkat(dirFd, name)                   removes a non-directory entry (EISDIR for a directory)
 *   futimens(fd, atimeSec, atimeNsec, mtimeSec, mtimeNsec)   nanosecond times of an open file
 *   gcmOpenInto(key, sealed, aad, target, offset)   see below
 *   gcmSealInto(key, plaintext, aad, target, offset) see below
 *
 * Names are Buffers (one path segment's raw bytes, no NUL). The error's `path` is the name.
 */
static bool fd_from_number(napi_env env, napi_value value, int *out, const char *message) {
  int64_t fd;
  if (!integer_from_number(env, value, 0, 2147483647.0, &fd, message)) return false;
  *out = (int)fd;
  return true;
}

static napi_value js_createat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int dir_fd;
  int64_t mode;
  if (!fd_from_number(env, argv[0], &dir_fd, "dirFd must be a descriptor")) return NULL;
  if (!integer_from_number(env, argv[2], 0, 07777, &mode, "mode must be an integer in [0, 0o7777]")) return NULL;
  size_t name_length = 0;
  char *name = path_argument(env, argv[1], &name_length);
  if (name == NULL) return NULL;
  int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
  napi_value result = NULL;
  if (fd < 0) {
    throw_errno(env, errno, "open", name, name_length);
  } else if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    throw_last_napi_error(env);
    result = NULL;
  }
  free(name);
  return result;
}

static napi_value js_unlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int dir_fd;
  if (!fd_from_number(env, argv[0], &dir_fd, "dirFd must be a descriptor")) return NULL;
  size_t name_length = 0;
  char *name = path_argument(env, argv[1], &name_length);
  if (name == NULL) return NULL;
  if (unlinkat(dir_fd, name, 0) != 0) throw_errno(env, errno, "unlink", name, name_length);
  free(name);
  return NULL;
}

static napi_value js_futimens(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int fd;
  int64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
  if (!fd_from_number(env, argv[0], &fd, "fd must be a descriptor")) return NULL;
  if (!int64_from_bigint(env, argv[1], &atime_sec, "atimeSec must be a bigint fitting in 64 bits")) return NULL;
  if (!integer_from_number(env, argv[2], 0, 999999999, &atime_nsec, "atimeNsec must be an integer in [0, 1e9)"))
    return NULL;
  if (!int64_from_bigint(env, argv[3], &mtime_sec, "mtimeSec must be a bigint fitting in 64 bits")) return NULL;
  if (!integer_from_number(env, argv[4], 0, 999999999, &mtime_nsec, "mtimeNsec must be an integer in [0, 1e9)"))
    return NULL;
  if ((int64_t)(time_t)atime_sec != atime_sec || (int64_t)(time_t)mtime_sec != mtime_sec) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "time does not fit in time_t");
    return NULL;
  }
  struct timespec times[2];
  times[0].tv_sec = (time_t)atime_sec;
  times[0].tv_nsec = (long)atime_nsec;
  times[1].tv_sec = (time_t)mtime_sec;
  times[1].tv_nsec = (long)mtime_nsec;
  if (futimens(fd, times) != 0) throw_errno(env, errno, "futimens", "", 0);
  return NULL;
}

/*
 *   gcmOpenInto(key, sealed, aad, target, offset) -> length or -1
 *       AES-256-GCM open of `nonce(12) || ciphertext || tag(16)` straight into target[offset..]: no
 *       buffer per call (Node's decipher returns a new one per update, garbage that piles up in the
 *       writer thread's malloc arena until V8 collects it). -1 when authentication fails (the bytes
 *       written are then garbage). key: 32 bytes; aad: a Uint8Array or undefined.
 */
#include <limits.h>
#include <openssl/evp.h>

/** The arguments gcmOpenInto and gcmSealInto share: (key, input, aad, target, offset). */
struct gcm_args {
  uint8_t *key, *input, *aad, *target;
  size_t input_length, aad_length, target_length;
  size_t offset;
};

/**
 * Reads `(key, input, aad, target, offset)` into `args` (aad may be undefined), checking the key's length
 * (32 bytes) and that aad and the input have less than 2 GiB; throws and returns false otherwise.
 */
static bool gcm_arguments(napi_env env, napi_callback_info info, const char *input_message, struct gcm_args *args) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return false;
  size_t key_length;
  int64_t offset;
  args->aad = NULL;
  args->aad_length = 0;
  if (!bytes_argument(env, argv[0], &args->key, &key_length, "key must be a Uint8Array")) return false;
  if (!bytes_argument(env, argv[1], &args->input, &args->input_length, input_message)) return false;
  napi_valuetype aad_type;
  if (napi_typeof(env, argv[2], &aad_type) != napi_ok) {
    napi_throw_error(env, NULL, "aad could not be read");
    return false;
  }
  if (aad_type != napi_undefined && !bytes_argument(env, argv[2], &args->aad, &args->aad_length, "aad must be a Uint8Array or undefined"))
    return false;
  if (!bytes_argument(env, argv[3], &args->target, &args->target_length, "target must be a Uint8Array")) return false;
  if (!integer_from_number(env, argv[4], 0, 9007199254740991.0, &offset, "offset must be a safe non-negative integer")) return false;
  args->offset = (size_t)offset;
  if (key_length != 32) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "key must have 32 bytes");
    return false;
  }
  if (args->input_length > (size_t)INT_MAX - 28 || args->aad_length > (size_t)INT_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the input and aad must have less than 2 GiB");
    return false;
  }
  return true;
}

/** True when `target` has room for `length` bytes at `offset`; throws and returns false otherwise. */
static bool gcm_room(napi_env env, const struct gcm_args *args, size_t length) {
  if ((uint64_t)args->offset <= args->target_length && length <= args->target_length - args->offset) return true;
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "no room in target");
  return false;
}

static napi_value js_gcm_open_into(napi_env env, napi_callback_info info) {
  struct gcm_args args;
  if (!gcm_arguments(env, info, "sealed must be a Uint8Array", &args)) return NULL;
  if (args.input_length < 28) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sealed must have 28 bytes at least");
    return NULL;
  }
  uint8_t *key = args.key, *sealed = args.input, *aad = args.aad;
  size_t sealed_length = args.input_length, aad_length = args.aad_length, body_length = sealed_length - 28;
  if (!gcm_room(env, &args, body_length)) return NULL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory for a cipher context");
    return NULL;
  }
  uint8_t *out = args.target + args.offset;
  int written = 0, final_length = 0;
  bool ready = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
               EVP_DecryptInit_ex(ctx, NULL, NULL, key, sealed) == 1 &&
               (aad == NULL || aad_length == 0 || EVP_DecryptUpdate(ctx, NULL, &written, aad, (int)aad_length) == 1) &&
               (body_length == 0 || EVP_DecryptUpdate(ctx, out, &written, sealed + 12, (int)body_length) == 1) &&
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, sealed + sealed_length - 16) == 1;
  if (body_length == 0) written = 0;
  if (!ready) {
    EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, NULL, "AES-256-GCM could not be set up");
    return NULL;
  }
  bool authentic = EVP_DecryptFinal_ex(ctx, out + written, &final_length) == 1;
  EVP_CIPHER_CTX_free(ctx);
  napi_value result;
  CHECK_NAPI(env, napi_create_int64(env, authentic ? (int64_t)written + final_length : -1, &result));
  return result;
}
/*
 *   gcmSealInto(key, plaintext, aad, target, offset) -> bytes written (plaintext.length + 28)
 *       AES-256-GCM seal into target[offset..] as `nonce(12) || ciphertext || tag(16)`, the nonce being the
 *       12 bytes the caller already put at target[offset..] (fresh random bytes): no buffer per call, for
 *       the reason gcmOpenInto gives (in encoder workers, ~20 MiB of garbage per worker). plaintext must
 *       not overlap target.
 */
static napi_value js_gcm_seal_into(napi_env env, napi_callback_info info) {
  struct gcm_args args;
  if (!gcm_arguments(env, info, "plaintext must be a Uint8Array", &args)) return NULL;
  uint8_t *key = args.key, *plaintext = args.input, *aad = args.aad;
  size_t plaintext_length = args.input_length, aad_length = args.aad_length, sealed_length = plaintext_length + 28;
  if (!gcm_room(env, &args, sealed_length)) return NULL;
  uint8_t *out = args.target + args.offset;
  if (plaintext_length > 0 && plaintext < out + sealed_length && out < plaintext + plaintext_length) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "plaintext overlaps target");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory for a cipher context");
    return NULL;
  }
  int written = 0, final_length = 0;
  bool sealed = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
                EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) == 1 &&
                (aad == NULL || aad_length == 0 || EVP_EncryptUpdate(ctx, NULL, &written, aad, (int)aad_length) == 1) &&
                (plaintext_length == 0 || EVP_EncryptUpdate(ctx, out + 12, &written, plaintext, (int)plaintext_length) == 1);
  if (plaintext_length == 0) written = 0;
  sealed = sealed && EVP_EncryptFinal_ex(ctx, out + 12 + written, &final_length) == 1 &&
           (size_t)written + (size_t)final_length == plaintext_length &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + plaintext_length) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!sealed) {
    napi_throw_error(env, NULL, "AES-256-GCM could not seal");
    return NULL;
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_int64(env, (int64_t)sealed_length, &result));
  return result;
}
/* ---- end of the restore block ---------------------------------------------------------------------------- */

/* ---- direct writes ------------------------------------------------------------------------------------- *
 *
 *   pwriteDirect(fd, bytes, position) -> Promise<number of bytes written with O_DIRECT>
 *
 * Writes all of `bytes` at `position` of the open file, on libuv's thread pool. The part that starts on a
 * DIRECT_ALIGN boundary of memory and of the file and spans whole DIRECT_ALIGN blocks goes with O_DIRECT
 * (switched on for the call through fcntl and off again): the device reads it straight from `bytes`, with
 * no copy into the page cache, no cached pages to allocate and no writeback later. That is most of the
 * kernel's work of writing a pack. The rest (an unaligned head or tail), and everything where the file
 * system refuses O_DIRECT (EINVAL: tmpfs before Linux 6.6, some FUSE mounts), goes through the page cache
 * as a plain pwrite. The caller fsyncs as before: O_DIRECT skips the cache, not the device's own.
 * `bytes` must not change until the promise settles. Rejects like Node (code, errno, syscall).
 */
#include <unistd.h>
#define DIRECT_ALIGN 4096

typedef struct {
  int fd;
  const uint8_t *data;
  size_t length;
  int64_t position;
  size_t direct_bytes;
  int error;
  EVP_MD_CTX *hash; /* when not NULL, updated with the bytes before they are written */
  bool hash_failed;
  async_job async;
} direct_job;

/* Writes data[*done..end) at position + *done; false with errno set on an error other than EINTR. */
static bool pwrite_range(int fd, const uint8_t *data, size_t *done, size_t end, int64_t position) {
  while (*done < end) {
    ssize_t n = pwrite(fd, data + *done, end - *done, (off_t)(position + (int64_t)*done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    *done += (size_t)n;
    /* O_DIRECT may stop short of an unaligned length (a full disk): the caller continues buffered. */
    if (*done % DIRECT_ALIGN != 0) return true;
  }
  return true;
}

static void direct_execute(napi_env env, void *data) {
  (void)env;
  direct_job *job = data;
  size_t done = 0;
  if (job->hash != NULL && job->length > 0 && EVP_DigestUpdate(job->hash, job->data, job->length) != 1) {
    job->hash_failed = true;
    return;
  }
#ifdef O_DIRECT
  size_t bulk = job->length & ~(size_t)(DIRECT_ALIGN - 1);
  if (bulk > 0 && (uintptr_t)job->data % DIRECT_ALIGN == 0 && job->position % DIRECT_ALIGN == 0) {
    int flags = fcntl(job->fd, F_GETFL);
    if (flags >= 0 && fcntl(job->fd, F_SETFL, flags | O_DIRECT) == 0) {
      bool ok = pwrite_range(job->fd, job->data, &done, bulk, job->position);
      int err = errno;
      fcntl(job->fd, F_SETFL, flags);
      job->direct_bytes = done;
      /* EINVAL: this file system takes no O_DIRECT (or not at this alignment); the page cache does. */
      if (!ok && err != EINVAL) {
        job->error = err;
        return;
      }
    }
  }
#endif
  /* pwrite_range returns after a write that ends off a block boundary: call it until all is written. */
  while (done < job->length) {
    if (!pwrite_range(job->fd, job->data, &done, job->length, job->position)) {
      job->error = errno != 0 ? errno : EIO;
      return;
    }
  }
}

static void direct_complete(napi_env env, napi_status status, void *data) {
  direct_job *job = data;
  napi_value value = NULL;
  if (status == napi_ok && job->error != 0) value = errno_error(env, job->error, "write");
  else if (status == napi_ok && !job->hash_failed && napi_create_double(env, (double)job->direct_bytes, &value) != napi_ok) value = NULL;
  settle_job(env, &job->async, value, job->error != 0, job->hash_failed ? "hashing the bytes failed" : "direct write failed");
  free(job);
}

static napi_value js_pwrite_direct(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "pwriteDirect(fd, bytes, position[, hash]) takes 3 or 4 arguments");
    return NULL;
  }
  EVP_MD_CTX *hash = NULL;
  if (argc >= 4) {
    napi_valuetype type;
    CHECK_NAPI(env, napi_typeof(env, argv[3], &type));
    if (type != napi_undefined) {
      void *pointer;
      if (type != napi_external || napi_get_value_external(env, argv[3], &pointer) != napi_ok) {
        napi_throw_type_error(env, NULL, "hash must come from sha256New");
        return NULL;
      }
      hash = pointer;
    }
  }
  int fd;
  int64_t position;
  uint8_t *bytes;
  size_t length;
  if (!fd_from_number(env, argv[0], &fd, "fd must be a descriptor")) return NULL;
  if (!bytes_argument(env, argv[1], &bytes, &length, "bytes must be a Uint8Array")) return NULL;
  if (!integer_from_number(env, argv[2], 0, 9007199254740991.0, &position, "position must be a safe non-negative integer"))
    return NULL;
  direct_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory starting a write");
    return NULL;
  }
  job->fd = fd;
  job->data = bytes;
  job->length = length;
  job->position = position;
  job->hash = hash;
  napi_value promise = start_job(env, &job->async, job, "ferry.pwriteDirect", argv[1], direct_execute, direct_complete);
  if (promise == NULL) free(job);
  return promise;
}

/*
 *   sha256New() -> external          a SHA-256 state for pwriteDirect's `hash` (freed with the external)
 *   sha256Digest(hash) -> Buffer     its 32-byte digest; the state is spent
 *
 * pwriteDirect(fd, bytes, position, hash) updates the state with the bytes on the thread pool, before it
 * writes them: a save that verifies its bytes against a SHA-256 hashes them off the main thread, in the same
 * trip to the pool as the write. One write at a time per state (the caller awaits each), so in order.
 */
static void sha256_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_MD_CTX_free(data);
}

static napi_value js_sha256_new(napi_env env, napi_callback_info info) {
  (void)info;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    napi_throw_error(env, NULL, "cannot start a SHA-256");
    return NULL;
  }
  napi_value result;
  if (napi_create_external(env, ctx, sha256_finalize, NULL, &result) != napi_ok) {
    EVP_MD_CTX_free(ctx);
    throw_last_napi_error(env);
    return NULL;
  }
  return result;
}

static napi_value js_sha256_digest(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  void *pointer;
  if (napi_get_value_external(env, argv[0], &pointer) != napi_ok) {
    napi_throw_type_error(env, NULL, "hash must come from sha256New");
    return NULL;
  }
  unsigned char digest[32];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(pointer, digest, &length) != 1 || length != 32) {
    napi_throw_error(env, NULL, "cannot finish a SHA-256");
    return NULL;
  }
  void *copy;
  napi_value result;
  CHECK_NAPI(env, napi_create_buffer_copy(env, 32, digest, &copy, &result));
  return result;
}

/*
 *   sha256Update(hash, bytes) -> Promise<void>   updates the state with the bytes on the thread pool
 *
 * For a save that writes a chunk and hashes it at once: the hash (sha256Update) and the write
 * (pwriteDirect without a hash) of one chunk run on two threads of the pool side by side, so a chunk costs
 * the longer of the two instead of their sum. One update at a time per state (the caller awaits each), so
 * in order; `bytes` must not change until the promise settles.
 */
static void hash_execute(napi_env env, void *data) {
  (void)env;
  direct_job *job = data;
  if (job->length > 0 && EVP_DigestUpdate(job->hash, job->data, job->length) != 1) job->hash_failed = true;
}

static void hash_complete(napi_env env, napi_status status, void *data) {
  direct_job *job = data;
  napi_value value = NULL;
  if (status == napi_ok && !job->hash_failed && napi_get_undefined(env, &value) != napi_ok) value = NULL;
  settle_job(env, &job->async, value, false, "hashing the bytes failed");
  free(job);
}

static napi_value js_sha256_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  void *pointer;
  if (napi_get_value_external(env, argv[0], &pointer) != napi_ok) {
    napi_throw_type_error(env, NULL, "hash must come from sha256New");
    return NULL;
  }
  uint8_t *bytes;
  size_t length;
  if (!bytes_argument(env, argv[1], &bytes, &length, "bytes must be a Uint8Array")) return NULL;
  direct_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory starting a hash");
    return NULL;
  }
  job->data = bytes;
  job->length = length;
  job->hash = pointer;
  napi_value promise = start_job(env, &job->async, job, "ferry.sha256Update", argv[1], hash_execute, hash_complete);
  if (promise == NULL) free(job);
  return promise;
}

/*   alignmentOf(bytes) -> number   the address of bytes[0] modulo DIRECT_ALIGN (0: aligned for pwriteDirect) */
static napi_value js_alignment_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  uint8_t *bytes;
  size_t length;
  if (!bytes_argument(env, argv[0], &bytes, &length, "bytes must be a Uint8Array")) return NULL;
  napi_value result;
  CHECK_NAPI(env, napi_create_uint32(env, (uint32_t)((uintptr_t)bytes % DIRECT_ALIGN), &result));
  return result;
}
/* ---- end of direct writes ---------------------------------------------------------------------------- */

/* ---- reads from the page cache ----------------------------------------------------------------------- *
 *   preadCached(fd, target, offset, length, position) -> number
 * Reads up to `length` bytes at `position` into target[offset..] only as far as they are in the page cache
 * (preadv2 with RWF_NOWAIT): the bytes read (0 at the end of the file), or -1 when the first byte is not
 * cached or the file system cannot tell (EAGAIN, EOPNOTSUPP). Never waits for the device, so a caller's
 * thread can try it before handing a read to the thread pool, whose round trip costs more than copying
 * a cached range. Other errors throw like Node (code, errno, syscall).
 */
#include <sys/uio.h>

static napi_value js_pread_cached(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int fd;
  if (!fd_from_number(env, argv[0], &fd, "fd must be a descriptor")) return NULL;
  uint8_t *target;
  size_t target_length;
  if (!bytes_argument(env, argv[1], &target, &target_length, "target must be a Uint8Array")) return NULL;
  int64_t offset, length, position;
  if (!integer_from_number(env, argv[2], 0, (double)target_length, &offset, "offset must be an integer in [0, target.length]")) return NULL;
  if (!integer_from_number(env, argv[3], 0, (double)(target_length - (size_t)offset), &length, "length must fit in target after offset")) return NULL;
  if (!integer_from_number(env, argv[4], 0, 9007199254740991.0, &position, "position must be a non-negative integer")) return NULL;
  double answer;
#ifdef RWF_NOWAIT
  struct iovec vector = {.iov_base = target + offset, .iov_len = (size_t)length};
  ssize_t got;
  do {
    got = preadv2(fd, &vector, 1, (off_t)position, RWF_NOWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno != EAGAIN && errno != EOPNOTSUPP) {
      throw_errno(env, errno, "read", "", 0);
      return NULL;
    }
    answer = -1;
  } else {
    answer = (double)got;
  }
#else
  answer = -1;
#endif
  napi_value result;
  CHECK_NAPI(env, napi_create_double(env, answer, &result));
  return result;
}
/* ---- end of reads from the page cache ---------------------------------------------------------------- */

/* ---- source reads ------------------------------------------------------------------------------------ *
 *
 *   openRead(dirFd, name, flags, buffer, offset, length) -> Promise<[fd, bytesRead, flagsUsed]>
 *
 * The backup's read of a source file, fused: openat(dirFd, name, flags) and a first read of up to `length`
 * bytes into buffer[offset..], in one job on libuv's thread pool instead of an open, a read and a close
 * (three trips to the pool and back, which cost more CPU than reading a small file). A read shorter than
 * asked means the file ended: it is closed and fd is -1. Otherwise fd stays open for the caller to read
 * on and close. flags: open(2) flags; O_NOATIME refused with EPERM (a file of another user) is dropped
 * and the open retried, and flagsUsed says which were used. Rejects like Node (code, errno, syscall).
 */
typedef struct {
  int dir_fd;
  char *name;
  int flags;
  uint8_t *data;
  size_t length;
  int fd;
  size_t bytes_read;
  int error;
  const char *syscall;
  async_job async;
} open_read_job;

static void open_read_execute(napi_env env, void *data) {
  (void)env;
  open_read_job *job = data;
  int fd = openat(job->dir_fd, job->name, job->flags | O_CLOEXEC);
#ifdef O_NOATIME
  if (fd < 0 && errno == EPERM && (job->flags & O_NOATIME)) {
    job->flags &= ~O_NOATIME;
    fd = openat(job->dir_fd, job->name, job->flags | O_CLOEXEC);
  }
#endif
  if (fd < 0) {
    job->error = errno;
    job->syscall = "open";
    return;
  }
  size_t done = 0;
  while (done < job->length) {
    ssize_t n = read(fd, job->data + done, job->length - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      job->error = errno;
      job->syscall = "read";
      close(fd);
      return;
    }
    if (n == 0) break;
    done += (size_t)n;
  }
  job->bytes_read = done;
  if (done < job->length) {
    close(fd);
    fd = -1;
  }
  job->fd = fd;
}

static napi_value open_read_result(napi_env env, open_read_job *job) {
  napi_value result, fd, bytes, flags;
  CHECK_NAPI(env, napi_create_int32(env, job->fd, &fd));
  CHECK_NAPI(env, napi_create_double(env, (double)job->bytes_read, &bytes));
  CHECK_NAPI(env, napi_create_int32(env, job->flags, &flags));
  CHECK_NAPI(env, napi_create_array_with_length(env, 3, &result));
  CHECK_NAPI(env, napi_set_element(env, result, 0, fd));
  CHECK_NAPI(env, napi_set_element(env, result, 1, bytes));
  CHECK_NAPI(env, napi_set_element(env, result, 2, flags));
  return result;
}

static void open_read_complete(napi_env env, napi_status status, void *data) {
  open_read_job *job = data;
  napi_value value = NULL;
  if (status == napi_ok) value = job->error != 0 ? errno_error(env, job->error, job->syscall) : open_read_result(env, job);
  /* A descriptor nobody will hear of is closed here. */
  if ((value == NULL || job->error != 0) && job->fd >= 0) close(job->fd);
  settle_job(env, &job->async, value, job->error != 0, "reading a file failed");
  free(job->name);
  free(job);
}

static napi_value js_open_read(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  int dir_fd;
  int64_t flags, offset, length;
  uint8_t *bytes;
  size_t size;
  if (!fd_from_number(env, argv[0], &dir_fd, "dirFd must be a descriptor")) return NULL;
  if (!integer_from_number(env, argv[2], 0, 2147483647.0, &flags, "flags must be open(2) flags")) return NULL;
  if (!bytes_argument(env, argv[3], &bytes, &size, "buffer must be a Uint8Array")) return NULL;
  if (!integer_from_number(env, argv[4], 0, (double)size, &offset, "offset must lie in the buffer")) return NULL;
  if (!integer_from_number(env, argv[5], 0, (double)(size - (size_t)offset), &length, "length must fit in the buffer"))
    return NULL;
  size_t name_length = 0;
  char *name = path_argument(env, argv[1], &name_length);
  if (name == NULL) return NULL;
  open_read_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    free(name);
    napi_throw_error(env, "ENOMEM", "out of memory reading a file");
    return NULL;
  }
  job->dir_fd = dir_fd;
  job->name = name;
  job->flags = (int)flags;
  job->data = bytes + offset;
  job->length = (size_t)length;
  job->fd = -1;
  napi_value promise = start_job(env, &job->async, job, "ferry.openRead", argv[3], open_read_execute, open_read_complete);
  if (promise == NULL) {
    free(name);
    free(job);
  }
  return promise;
}
/* ---- end of source reads ----------------------------------------------------------------------------- */
#include "scrypt_romix.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"utimensat", NULL, js_utimensat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkfifo", NULL, js_mkfifo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMmapThreshold", NULL, js_set_mmap_threshold, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scanDirectory", NULL, js_scan_directory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gearScan", NULL, js_gear_scan, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyBytes", NULL, js_copy_bytes, NULL, NULL, NULL, napi_enumerable, NULL},
      /* restore block */
      {"createat", NULL, js_createat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlinkat", NULL, js_unlinkat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futimens", NULL, js_futimens, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmOpenInto", NULL, js_gcm_open_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmSealInto", NULL, js_gcm_seal_into, NULL, NULL, NULL, napi_enumerable, NULL},
      /* direct writes */
      {"pwriteDirect", NULL, js_pwrite_direct, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Update", NULL, js_sha256_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"alignmentOf", NULL, js_alignment_of, NULL, NULL, NULL, napi_enumerable, NULL},
      {"preadCached", NULL, js_pread_cached, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256New", NULL, js_sha256_new, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Digest", NULL, js_sha256_digest, NULL, NULL, NULL, napi_enumerable, NULL},
      /* source reads */
      {"openRead", NULL, js_open_read, NULL, NULL, NULL, napi_enumerable, NULL},
      FERRY_SCRYPT_PROPERTY
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
