// npuscribe's AppImage type 2 runtime, written from the public AppImage specification
// (https://github.com/AppImage/AppImageSpec, "Type 2 image format"): an ELF executable with "AI\x02" at
// offset 8 (written after linking), a SquashFS image appended right after the ELF's section header table,
// and the optional ELF sections .upd_info and .sha256_sig. When run it mounts the image with FUSE
// (libsquashfuse_ll + libfuse3, both linked statically) and executes AppRun from it; where FUSE cannot be
// used (containers, no fusermount3) it extracts the image to a temporary directory with libsquashfuse's
// reader, runs AppRun from there and deletes it afterwards.
//
// Only glibc is linked dynamically, so the host needs nothing else; mounting as a normal user needs the
// host's setuid fusermount3 (package fuse3), as with every FUSE 3 AppImage runtime.
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <squashfuse/ll.h>
#include <squashfuse/squashfuse.h>
#include <squashfuse/traverse.h>

#ifndef NPUSCRIBE_RUNTIME_VERSION
#define NPUSCRIBE_RUNTIME_VERSION "unknown"
#endif

// Update information and signature slots of the spec; tools may fill them in place after the build, so
// they are fixed-size, zero-filled and must survive linking and stripping.
__attribute__((section(".upd_info"), used, aligned(1))) static const char update_information[1024] = {0};
__attribute__((section(".sha256_sig"), used, aligned(1))) static const char signature[1024] = {0};

static const char* program_name = "AppImage";

static void die(const char* format, const char* detail) {
  fprintf(stderr, "%s: ", program_name);
  fprintf(stderr, format, detail);
  fputc('\n', stderr);
  exit(1);
}

// --- ELF layout ---------------------------------------------------------------------------------------

typedef struct {
  off_t image_offset;  // where the SquashFS image starts = end of the section header table
  off_t section_header_offset;
  unsigned section_count;
  unsigned section_names_index;
  bool is_64_bit;
} elf_layout;

static bool read_exact(int fd, void* buffer, size_t size, off_t offset) {
  return pread(fd, buffer, size, offset) == (ssize_t)size;
}

static bool read_elf_layout(int fd, elf_layout* layout) {
  unsigned char ident[EI_NIDENT];
  if (!read_exact(fd, ident, sizeof ident, 0) || memcmp(ident, ELFMAG, SELFMAG) != 0) return false;
  if (ident[EI_DATA] != ELFDATA2LSB) return false;  // x86-64 and aarch64 only
  if (ident[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr header;
    if (!read_exact(fd, &header, sizeof header, 0)) return false;
    layout->is_64_bit = true;
    layout->section_header_offset = (off_t)header.e_shoff;
    layout->section_count = header.e_shnum;
    layout->section_names_index = header.e_shstrndx;
    layout->image_offset = (off_t)(header.e_shoff + (uint64_t)header.e_shnum * header.e_shentsize);
    return true;
  }
  if (ident[EI_CLASS] == ELFCLASS32) {
    Elf32_Ehdr header;
    if (!read_exact(fd, &header, sizeof header, 0)) return false;
    layout->is_64_bit = false;
    layout->section_header_offset = header.e_shoff;
    layout->section_count = header.e_shnum;
    layout->section_names_index = header.e_shstrndx;
    layout->image_offset = (off_t)(header.e_shoff + (uint32_t)header.e_shnum * header.e_shentsize);
    return true;
  }
  return false;
}

static bool read_section_header(int fd, const elf_layout* layout, unsigned index, uint64_t* name,
                                uint64_t* offset, uint64_t* size) {
  if (layout->is_64_bit) {
    Elf64_Shdr section;
    if (!read_exact(fd, &section, sizeof section,
                    layout->section_header_offset + (off_t)index * sizeof section))
      return false;
    *name = section.sh_name, *offset = section.sh_offset, *size = section.sh_size;
  } else {
    Elf32_Shdr section;
    if (!read_exact(fd, &section, sizeof section,
                    layout->section_header_offset + (off_t)index * sizeof section))
      return false;
    *name = section.sh_name, *offset = section.sh_offset, *size = section.sh_size;
  }
  return true;
}

// Prints the text stored in an ELF section (up to its first NUL), the way --appimage-updateinformation
// and --appimage-signature report them.
static int print_section(int fd, const elf_layout* layout, const char* wanted) {
  uint64_t names_name, names_offset, names_size;
  if (!read_section_header(fd, layout, layout->section_names_index, &names_name, &names_offset, &names_size))
    die("cannot read the ELF section names of %s", "this AppImage");
  for (unsigned i = 0; i < layout->section_count; ++i) {
    uint64_t name, offset, size;
    if (!read_section_header(fd, layout, i, &name, &offset, &size)) break;
    char name_text[64] = {0};
    if (name >= names_size) continue;
    if (pread(fd, name_text, sizeof name_text - 1, (off_t)(names_offset + name)) <= 0) continue;
    if (strcmp(name_text, wanted) != 0) continue;
    char* text = calloc(1, size + 1);
    if (!text || !read_exact(fd, text, size, (off_t)offset)) die("cannot read section %s", wanted);
    printf("%s\n", text);
    free(text);
    return 0;
  }
  die("this AppImage has no ELF section %s", wanted);
  return 1;
}

// --- Extraction ---------------------------------------------------------------------------------------

static void make_parent_directories(char* path) {
  for (char* slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
  }
}

static bool extract_regular_file(sqfs* fs, sqfs_inode* inode, const char* target) {
  int out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, inode->base.mode & 07777);
  if (out < 0) return false;
  enum { chunk_bytes = 1 << 20 };
  static char buffer[chunk_bytes];
  bool ok = true;
  for (uint64_t position = 0; ok && position < inode->xtra.reg.file_size;) {
    sqfs_off_t size = chunk_bytes;
    if (inode->xtra.reg.file_size - position < (uint64_t)size)
      size = (sqfs_off_t)(inode->xtra.reg.file_size - position);
    if (sqfs_read_range(fs, inode, (sqfs_off_t)position, &size, buffer) != SQFS_OK || size <= 0) {
      ok = false;
      break;
    }
    for (sqfs_off_t written = 0; written < size;) {
      ssize_t n = write(out, buffer + written, (size_t)(size - written));
      if (n <= 0) {
        ok = false;
        break;
      }
      written += n;
    }
    position += (uint64_t)size;
  }
  // The mode given to open() is filtered by the umask; the image's permissions are what AppRun needs.
  if (fchmod(out, inode->base.mode & 07777) != 0) ok = false;
  return close(out) == 0 && ok;
}

// Extracts every entry whose path matches `pattern` (fnmatch, NULL = all) below `destination`.
static bool extract_image(const char* image_path, off_t offset, const char* destination, const char* pattern,
                          bool verbose) {
  sqfs fs;
  if (sqfs_open_image(&fs, image_path, (size_t)offset) != SQFS_OK) {
    fprintf(stderr, "%s: cannot read the SquashFS image inside %s (damaged download?)\n", program_name,
            image_path);
    return false;
  }
  if (mkdir(destination, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create %s: %s\n", program_name, destination, strerror(errno));
    sqfs_destroy(&fs);
    return false;
  }
  sqfs_traverse traversal;
  if (sqfs_traverse_open(&traversal, &fs, sqfs_inode_root(&fs)) != SQFS_OK) {
    sqfs_destroy(&fs);
    return false;
  }
  bool ok = true;
  sqfs_err error = SQFS_OK;
  while (ok && sqfs_traverse_next(&traversal, &error)) {
    if (traversal.dir_end) continue;
    if (pattern && fnmatch(pattern, traversal.path, 0) != 0) continue;
    sqfs_inode inode;
    if (sqfs_inode_get(&fs, &inode, sqfs_dentry_inode(&traversal.entry)) != SQFS_OK) {
      ok = false;
      break;
    }
    size_t target_size = strlen(destination) + strlen(traversal.path) + 2;
    char* target = malloc(target_size);
    snprintf(target, target_size, "%s/%s", destination, traversal.path);
    if (pattern) make_parent_directories(target);
    if (verbose) printf("%s\n", target);
    mode_t mode = inode.base.mode;
    if (S_ISDIR(mode)) {
      // Owner write stays on so the tree can be filled and later deleted.
      if (mkdir(target, (mode & 07777) | 0700) != 0 && errno != EEXIST) ok = false;
    } else if (S_ISREG(mode)) {
      unlink(target);
      ok = extract_regular_file(&fs, &inode, target);
    } else if (S_ISLNK(mode)) {
      size_t link_size = 0;
      if (sqfs_readlink(&fs, &inode, NULL, &link_size) != SQFS_OK) ok = false;
      char* link = malloc(link_size + 1);
      size_t buffer_size = link_size + 1;
      if (ok && sqfs_readlink(&fs, &inode, link, &buffer_size) == SQFS_OK) {
        unlink(target);
        if (symlink(link, target) != 0) ok = false;
      }
      free(link);
    }  // device nodes, FIFOs and sockets have no place in an AppDir and are skipped
    if (!ok) fprintf(stderr, "%s: cannot extract %s: %s\n", program_name, target, strerror(errno));
    free(target);
  }
  if (error != SQFS_OK) ok = false;
  sqfs_traverse_close(&traversal);
  sqfs_destroy(&fs);
  return ok;
}

static int remove_entry(const char* path, const struct stat* status, int type, struct FTW* walk) {
  (void)status, (void)type, (void)walk;
  remove(path);
  return 0;
}

static void remove_tree(const char* path) {
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// --- Running AppRun -----------------------------------------------------------------------------------

static pid_t child_pid = 0;

// Forwards signals that another process sent (kill, a session manager) to AppRun; the terminal's
// Ctrl-C already reaches AppRun directly through the process group, so those are not sent twice.
static void forward_signal(int signal_number, siginfo_t* info, void* context) {
  (void)context;
  if (child_pid > 0 && info && info->si_code <= 0) kill(child_pid, signal_number);
}

static void set_environment(const char* image_path, const char* app_dir, const char* argv0) {
  setenv("APPIMAGE", image_path, 1);
  setenv("APPDIR", app_dir, 1);
  setenv("ARGV0", argv0, 1);
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd)) setenv("OWD", cwd, 1);
}

static void exec_app_run(const char* app_dir, int argc, char** argv) {
  size_t path_size = strlen(app_dir) + sizeof "/AppRun";
  char* app_run = malloc(path_size);
  snprintf(app_run, path_size, "%s/AppRun", app_dir);
  char** arguments = calloc((size_t)argc + 1, sizeof *arguments);
  arguments[0] = app_run;
  for (int i = 1; i < argc; ++i) arguments[i] = argv[i];
  execv(app_run, arguments);
  fprintf(stderr, "%s: cannot run %s: %s\n", program_name, app_run, strerror(errno));
  _exit(127);
}

static const char* temporary_directory(void) {
  const char* directory = getenv("TMPDIR");
  return directory && *directory ? directory : "/tmp";
}

// FNV-1a over the image's superblock and the file's size: names the extraction directory after the
// image's content, like the reference runtime does with a checksum, without reading the whole file.
static uint64_t image_identity(int fd, off_t offset) {
  unsigned char superblock[96] = {0};
  if (pread(fd, superblock, sizeof superblock, offset) < 0) memset(superblock, 0, sizeof superblock);
  uint64_t hash = 1469598103934665603ULL;
  for (size_t i = 0; i < sizeof superblock; ++i) hash = (hash ^ superblock[i]) * 1099511628211ULL;
  struct stat status;
  if (fstat(fd, &status) == 0) hash = (hash ^ (uint64_t)status.st_size) * 1099511628211ULL;
  return hash;
}

static int extract_and_run(const char* image_path, int fd, off_t offset, int argc, char** argv) {
  // NO_CLEANUP (as in the reference runtime) keeps the extracted tree and reuses it on the next run.
  bool keep = getenv("NO_CLEANUP") != NULL;
  char directory[PATH_MAX];
  if (keep) {
    snprintf(directory, sizeof directory, "%s/appimage_extracted_%016llx", temporary_directory(),
             (unsigned long long)image_identity(fd, offset));
  } else {
    snprintf(directory, sizeof directory, "%s/appimage_extracted_%016llx_XXXXXX", temporary_directory(),
             (unsigned long long)image_identity(fd, offset));
    if (!mkdtemp(directory))
      die("cannot create a directory in %s (set TMPDIR to a writable one)", temporary_directory());
  }
  char marker[PATH_MAX + 16];
  snprintf(marker, sizeof marker, "%s/.extracted", directory);
  if (!(keep && access(marker, F_OK) == 0)) {
    if (!extract_image(image_path, offset, directory, NULL, false)) {
      if (!keep) remove_tree(directory);
      die("extracting %s failed (is the disk full? set TMPDIR to another directory)", image_path);
    }
    if (keep) close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  }
  set_environment(image_path, directory, argv[0]);
  struct sigaction action = {0};
  action.sa_sigaction = forward_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; ++i) sigaction(forwarded[i], &action, NULL);
  child_pid = fork();
  if (child_pid < 0) die("cannot start AppRun: %s", strerror(errno));
  if (child_pid == 0) {
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; ++i) signal(forwarded[i], SIG_DFL);
    close(fd);
    exec_app_run(directory, argc, argv);
  }
  int status = 0;
  while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!keep) remove_tree(directory);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// --- FUSE mount ---------------------------------------------------------------------------------------

static struct fuse_lowlevel_ops squashfs_operations(void) {
  struct fuse_lowlevel_ops operations;
  memset(&operations, 0, sizeof operations);
  operations.getattr = sqfs_ll_op_getattr;
  operations.opendir = sqfs_ll_op_opendir;
  operations.releasedir = sqfs_ll_op_releasedir;
  operations.readdir = sqfs_ll_op_readdir;
  operations.lookup = sqfs_ll_op_lookup;
  operations.open = sqfs_ll_op_open;
  operations.create = sqfs_ll_op_create;
  operations.release = sqfs_ll_op_release;
  operations.read = sqfs_ll_op_read;
  operations.readlink = sqfs_ll_op_readlink;
  operations.listxattr = sqfs_ll_op_listxattr;
  operations.getxattr = sqfs_ll_op_getxattr;
  operations.forget = sqfs_ll_op_forget;
  operations.statfs = stfs_ll_op_statfs;
  return operations;
}

// Serves the image at `mount_point` in a child process that lives as long as the process that forked it
// (PR_SET_PDEATHSIG): the caller then becomes AppRun, keeping its pid, exit status and signals.
// Returns true once the file system is mounted.
static bool mount_image(const char* image_path, off_t offset, const char* mount_point, bool quiet) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return false;
  pid_t parent = getpid();
  pid_t server = fork();
  if (server < 0) return false;
  if (server == 0) {
    close(ready[0]);
    // Out of the terminal's process group: Ctrl-C goes to the app, which may still need its files.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);
    sqfs_ll* ll = sqfs_ll_open(image_path, (size_t)offset);
    if (!ll) _exit(1);
    char* fuse_argv[] = {(char*)program_name, "-o", "ro,nodev,nosuid,subtype=appimage", NULL};
    struct fuse_args arguments = FUSE_ARGS_INIT(3, fuse_argv);
    struct fuse_lowlevel_ops operations = squashfs_operations();
    sqfs_ll_chan channel;
    if (quiet) {
      // libfuse reports a failed mount on stderr; the caller falls back to extraction and says so once.
      int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    }
    if (sqfs_ll_mount(&channel, mount_point, &arguments, &operations, sizeof operations, ll) != SQFS_OK)
      _exit(1);
    if (fuse_set_signal_handlers(channel.session) != 0) _exit(1);
    // Keep no pipe of the caller open (a reader of the app's output would otherwise wait for us too).
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO), dup2(null_fd, STDOUT_FILENO), dup2(null_fd, STDERR_FILENO);
    }
    if (write(ready[1], "1", 1) != 1) _exit(1);
    close(ready[1]);
    fuse_session_loop(channel.session);
    // The parent-death signal can arrive twice (thread leader, then the whole group); the cleanup must
    // not be cut short by the second one.
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM), sigaddset(&blocked, SIGINT), sigaddset(&blocked, SIGHUP);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    fuse_remove_signal_handlers(channel.session);
    sqfs_ll_unmount(&channel, mount_point);
    rmdir(mount_point);
    sqfs_ll_destroy(ll);
    _exit(0);
  }
  close(ready[1]);
  char byte = 0;
  ssize_t n;
  while ((n = read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  if (n == 1) return true;
  waitpid(server, NULL, 0);
  return false;
}

static bool fuse_usable(void) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

static char* make_mount_point(const char* image_path) {
  const char* base = strrchr(image_path, '/');
  base = base ? base + 1 : image_path;
  char prefix[8] = {0};
  snprintf(prefix, sizeof prefix, "%.6s", base);
  for (char* c = prefix; *c; ++c)
    if (*c == ' ' || *c == '.') *c = '_';
  char* mount_point = malloc(PATH_MAX);
  snprintf(mount_point, PATH_MAX, "%s/.mount_%sXXXXXX", temporary_directory(), prefix);
  if (!mkdtemp(mount_point)) {
    free(mount_point);
    return NULL;
  }
  return mount_point;
}

// --- Command line -------------------------------------------------------------------------------------

static void print_help(void) {
  printf(
      "AppImage runtime (npuscribe, type 2). Options handled by the runtime; all other arguments go to the "
      "app.\n"
      "  --appimage-extract [PATTERN]  extract the image (entries matching the fnmatch PATTERN) to "
      "./squashfs-root\n"
      "  --appimage-extract-and-run    extract to $TMPDIR, run, delete afterwards (use where FUSE is "
      "missing)\n"
      "  --appimage-mount              mount the image, print the mount point, serve until interrupted\n"
      "  --appimage-offset             print the byte offset of the SquashFS image\n"
      "  --appimage-updateinformation  print the update information (.upd_info section)\n"
      "  --appimage-signature          print the signature (.sha256_sig section)\n"
      "  --appimage-version            print the runtime version\n"
      "  --appimage-help               this text\n"
      "Environment: APPIMAGE_EXTRACT_AND_RUN=1 always extracts; NO_CLEANUP=1 keeps and reuses the extracted "
      "tree;\n"
      "TARGET_APPIMAGE=PATH uses the image of another AppImage. AppRun sees APPIMAGE, APPDIR, ARGV0 and "
      "OWD.\n");
}

int main(int argc, char** argv) {
  char image_path[PATH_MAX];
  const char* target = getenv("TARGET_APPIMAGE");
  if (target && *target) {
    if (!realpath(target, image_path)) die("TARGET_APPIMAGE=%s does not name a readable file", target);
  } else {
    ssize_t n = readlink("/proc/self/exe", image_path, sizeof image_path - 1);
    if (n <= 0) die("cannot find this AppImage's own file (is %s mounted?)", "/proc");
    image_path[n] = '\0';
  }
  const char* base = strrchr(image_path, '/');
  program_name = base ? base + 1 : image_path;

  int fd = open(image_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open %s", image_path);
  elf_layout layout;
  if (!read_elf_layout(fd, &layout)) die("%s is not an ELF file", image_path);
  const char* option = argc > 1 ? argv[1] : "";
  if (strcmp(option, "--appimage-help") == 0) {
    print_help();
    return 0;
  }
  if (strcmp(option, "--appimage-version") == 0) {
    printf("%s\n", NPUSCRIBE_RUNTIME_VERSION);
    return 0;
  }
  char magic[4] = {0};
  if (!read_exact(fd, magic, 4, layout.image_offset) || memcmp(magic, "hsqs", 4) != 0)
    die("%s has no SquashFS image after its ELF part (incomplete download?)", image_path);
  // The superblock's bytes_used (offset 40) says how long the image is: catch a truncated download here
  // rather than with a read error halfway through.
  unsigned char bytes_used[8];
  struct stat status;
  if (!read_exact(fd, bytes_used, sizeof bytes_used, layout.image_offset + 40) || fstat(fd, &status) != 0)
    die("%s is truncated: download it again", image_path);
  uint64_t image_bytes = 0;
  for (int i = 7; i >= 0; --i) image_bytes = image_bytes << 8 | bytes_used[i];
  if ((uint64_t)status.st_size < (uint64_t)layout.image_offset + image_bytes)
    die("%s is truncated (incomplete download?): download it again", image_path);

  if (strncmp(option, "--appimage-", 11) == 0) {
    if (strcmp(option, "--appimage-offset") == 0) {
      printf("%lld\n", (long long)layout.image_offset);
      return 0;
    }
    if (strcmp(option, "--appimage-updateinformation") == 0) return print_section(fd, &layout, ".upd_info");
    if (strcmp(option, "--appimage-signature") == 0) return print_section(fd, &layout, ".sha256_sig");
    if (strcmp(option, "--appimage-extract") == 0) {
      const char* pattern = argc > 2 ? argv[2] : NULL;
      return extract_image(image_path, layout.image_offset, "squashfs-root", pattern, true) ? 0 : 1;
    }
    if (strcmp(option, "--appimage-extract-and-run") == 0) {
      argv[1] = argv[0];  // the app sees the arguments after the option
      return extract_and_run(image_path, fd, layout.image_offset, argc - 1, argv + 1);
    }
    if (strcmp(option, "--appimage-mount") == 0) {
      char* mount_point = make_mount_point(image_path);
      if (!mount_point || !mount_image(image_path, layout.image_offset, mount_point, false)) {
        if (mount_point) rmdir(mount_point);
        die("cannot mount %s with FUSE (install fuse3, or use --appimage-extract)", image_path);
      }
      printf("%s\n", mount_point);
      fflush(stdout);
      pause();  // the server child unmounts when this process ends
      return 0;
    }
    die("unknown runtime option %s (see --appimage-help)", option);
  }

  const char* force_extract = getenv("APPIMAGE_EXTRACT_AND_RUN");
  if (!(force_extract && strcmp(force_extract, "1") == 0)) {
    if (fuse_usable()) {
      char* mount_point = make_mount_point(image_path);
      if (mount_point && mount_image(image_path, layout.image_offset, mount_point, true)) {
        set_environment(image_path, mount_point, argv[0]);
        close(fd);
        exec_app_run(mount_point, argc, argv);
      }
      if (mount_point) rmdir(mount_point);
    }
    fprintf(stderr,
            "%s: FUSE is not available here (no /dev/fuse or fusermount3; install the fuse3 package), "
            "running from a temporary extraction instead\n",
            program_name);
  }
  return extract_and_run(image_path, fd, layout.image_offset, argc, argv);
}
