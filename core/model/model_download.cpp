#include "model/model_download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace npuscribe {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kProgressInterval = std::chrono::milliseconds(100);
constexpr auto kRateWindow = std::chrono::seconds(3);
constexpr std::size_t kHashChunkBytes = 1 << 20;

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) throw Error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
  });
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

bool cancel_requested(const std::atomic<bool>* cancel) {
  return cancel && cancel->load(std::memory_order_relaxed);
}

std::string to_hex(const unsigned char* bytes, unsigned int count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * count);
  for (unsigned int i = 0; i < count; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0x0F]);
  }
  return hex;
}

// SHA-1 of a file; std::nullopt when cancelled midway.
std::optional<std::string> sha1_file_hex_cancellable(const std::filesystem::path& path,
                                                     const std::atomic<bool>* cancel) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    throw Error(path.string() + ": cannot open to compute its checksum (" + std::strerror(errno) + ").");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha1(), nullptr) != 1)
    throw Error("cannot compute SHA-1 checksums: OpenSSL's SHA-1 is unavailable.");
  std::vector<unsigned char> buffer(kHashChunkBytes);
  for (;;) {
    if (cancel_requested(cancel)) return std::nullopt;
    const ssize_t count = ::read(fd.get(), buffer.data(), buffer.size());
    if (count < 0) {
      if (errno == EINTR) continue;
      throw Error(path.string() + ": read error while computing its checksum (" + std::strerror(errno) +
                  ").");
    }
    if (count == 0) break;
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(count));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_bytes = 0;
  EVP_DigestFinal_ex(context.get(), digest, &digest_bytes);
  return to_hex(digest, digest_bytes);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

enum class Failure { none, http_status, bad_response, disk_full, write_failed, callback_threw };

// State shared with the libcurl callbacks of one request. Callbacks never throw: they record a failure and
// return the value that makes libcurl stop.
struct Transfer {
  const OfficialModel& model;
  const DownloadOptions& options;
  CURL* curl = nullptr;
  int fd = -1;
  std::filesystem::path directory;
  std::filesystem::path part_path;
  std::uint64_t resume_from_bytes = 0;  // .part size when the request was made
  std::uint64_t file_bytes = 0;         // bytes in the .part now

  // Headers of the latest response (a redirect chain has several).
  std::optional<std::uint64_t> content_length_bytes;
  std::optional<std::uint64_t> range_start_bytes;
  std::optional<std::uint64_t> range_total_bytes;

  bool response_started = false;
  bool range_not_satisfiable = false;  // HTTP 416 to our Range: the .part may already be complete
  long status = 0;
  std::uint64_t total_bytes = 0;  // of the whole file, from the server; 0 while unknown

  bool cancelled = false;
  Failure failure = Failure::none;
  std::string failure_message;
  bool part_is_garbage = false;  // the failure means the .part must not be resumed
  std::exception_ptr callback_exception;

  bool progress_reported = false;
  std::uint64_t reported_bytes = 0;
  Clock::time_point reported_at{};
  std::deque<std::pair<Clock::time_point, std::uint64_t>> rate_samples;

  Transfer(const OfficialModel& m, const DownloadOptions& o) : model(m), options(o) {}

  void fail(Failure kind, std::string message, bool garbage = false) {
    if (failure != Failure::none) return;
    failure = kind;
    failure_message = std::move(message);
    part_is_garbage = garbage;
  }

  void on_header_line(std::string_view line) {
    if (starts_with_ignoring_case(line, "http/")) {
      content_length_bytes.reset();
      range_start_bytes.reset();
      range_total_bytes.reset();
    } else if (starts_with_ignoring_case(line, "content-length:")) {
      content_length_bytes = parse_u64(trim(line.substr(15)));
    } else if (starts_with_ignoring_case(line, "content-range:")) {
      // "bytes 100-199/200" or "bytes */200"
      std::string_view value = trim(line.substr(14));
      if (!starts_with_ignoring_case(value, "bytes")) return;
      value = trim(value.substr(5));
      const std::size_t slash = value.find('/');
      if (slash == std::string_view::npos) return;
      range_total_bytes = parse_u64(value.substr(slash + 1));
      const std::string_view span = value.substr(0, slash);
      if (const std::size_t dash = span.find('-'); dash != std::string_view::npos)
        range_start_bytes = parse_u64(span.substr(0, dash));
    }
  }

  // First body bytes of the final response: decide what they mean for the .part. False stops the transfer.
  bool begin_response() {
    response_started = true;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 416 && resume_from_bytes > 0) {
      range_not_satisfiable = true;
      return false;
    }
    if (status == 206) {
      if (resume_from_bytes == 0 || range_start_bytes != resume_from_bytes) {
        fail(Failure::bad_response,
             "the server answered the request to resume " + model.file_name + " at byte " +
                 std::to_string(resume_from_bytes) +
                 " with a different range. The partial file was deleted; " +
                 "run the same command again to download it afresh.",
             true);
        return false;
      }
      if (range_total_bytes)
        total_bytes = *range_total_bytes;
      else if (content_length_bytes)
        total_bytes = resume_from_bytes + *content_length_bytes;
    } else if (status == 200) {
      if (file_bytes > 0) {
        // The server ignored the Range request and sends the whole file: start the .part over.
        if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
          fail(Failure::write_failed,
               part_path.string() + ": cannot truncate (" + std::strerror(errno) + ").");
          return false;
        }
        file_bytes = 0;
        rate_samples.clear();
      }
      total_bytes = content_length_bytes.value_or(0);
    } else {
      if (status < 400)
        fail(Failure::bad_response, "the server answered HTTP " + std::to_string(status) +
                                        " to the download of " + model.file_name +
                                        " instead of sending the file.");
      return false;  // HTTP errors are reported after curl_easy_perform, with or without a body
    }
    if (total_bytes > 0 && !size_plausible(model, total_bytes)) {
      fail(Failure::bad_response,
           "the server's " + model.file_name + " has " + std::to_string(total_bytes) + " bytes, but " +
               (model.size_is_exact ? "exactly " : "about ") + format_size(model.size_bytes) + " (" +
               std::to_string(model.size_bytes) +
               " bytes) were expected: it is not the published model. Nothing was installed.",
           true);
      return false;
    }
    if (total_bytes > file_bytes) {
      std::error_code error;
      const auto space = std::filesystem::space(directory, error);
      if (!error && space.available < total_bytes - file_bytes) {
        fail(Failure::disk_full, "not enough disk space in " + directory.string() + " to download " +
                                     model.file_name + ": it needs " + format_size(total_bytes - file_bytes) +
                                     " more but only " + format_size(space.available) +
                                     " are free. Free some space and run the same command again.");
        return false;
      }
    }
    rate_samples.emplace_back(Clock::now(), file_bytes);
    return true;
  }

  // Upper bound on the file: the announced size, else what the model entry allows.
  std::uint64_t size_limit_bytes() const {
    if (total_bytes > 0) return total_bytes;
    if (model.size_is_exact) return model.size_bytes;
    return model.size_bytes + model.size_bytes / 5;
  }

  std::size_t on_body(const char* data, std::size_t bytes) {
    if (cancel_requested(options.cancel)) {
      cancelled = true;
      return 0;
    }
    if (!response_started && !begin_response()) return 0;
    if (failure != Failure::none) return 0;
    if (file_bytes + bytes > size_limit_bytes()) {
      fail(Failure::bad_response,
           "the server sent more data for " + model.file_name + " than " +
               (total_bytes > 0 ? "it announced" : "the model's size") +
               ". The partial file was deleted; run the same command again to download it afresh.",
           true);
      return 0;
    }
    std::size_t done = 0;
    while (done < bytes) {
      const ssize_t count = ::write(fd, data + done, bytes - done);
      if (count < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOSPC || errno == EDQUOT) {
          const std::uint64_t missing = (total_bytes > file_bytes ? total_bytes - file_bytes : bytes - done);
          fail(Failure::disk_full,
               "not enough disk space in " + directory.string() + " to download " + model.file_name +
                   " (about " + format_size(missing) +
                   " more needed). Free some space and run the same command again to resume.");
        } else {
          fail(Failure::write_failed, part_path.string() + ": write error (" + std::strerror(errno) + ").");
        }
        return 0;
      }
      done += static_cast<std::size_t>(count);
      file_bytes += static_cast<std::uint64_t>(count);
    }
    return bytes;
  }

  bool report_progress(bool final_report) {
    if (!options.on_progress) return true;
    if (!final_report && !response_started) return true;
    const Clock::time_point now = Clock::now();
    if (progress_reported && file_bytes == reported_bytes) return true;  // received_bytes only ever grows
    if (!final_report && progress_reported && now - reported_at < kProgressInterval) return true;
    rate_samples.emplace_back(now, file_bytes);
    while (rate_samples.size() > 2 && now - rate_samples.front().first > kRateWindow)
      rate_samples.pop_front();
    DownloadProgress progress;
    progress.received_bytes = file_bytes;
    progress.total_bytes = total_bytes > 0 ? total_bytes : model.size_bytes;
    const auto& [oldest_time, oldest_bytes] = rate_samples.front();
    const double elapsed_s = std::chrono::duration<double>(now - oldest_time).count();
    if (elapsed_s > 0 && file_bytes >= oldest_bytes)
      progress.bytes_per_second = static_cast<double>(file_bytes - oldest_bytes) / elapsed_s;
    progress_reported = true;
    reported_bytes = file_bytes;
    reported_at = now;
    try {
      options.on_progress(progress);
    } catch (...) {
      callback_exception = std::current_exception();
      fail(Failure::callback_threw, "the progress callback failed");
      return false;
    }
    return true;
  }
};

std::size_t header_callback(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<Transfer*>(user)->on_header_line(std::string_view(data, size * count));
  return size * count;
}

std::size_t write_callback(char* data, std::size_t size, std::size_t count, void* user) {
  return static_cast<Transfer*>(user)->on_body(data, size * count);
}

int progress_callback(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& transfer = *static_cast<Transfer*>(user);
  if (cancel_requested(transfer.options.cancel)) {
    transfer.cancelled = true;
    return 1;
  }
  return transfer.report_progress(false) ? 0 : 1;
}

std::string kept_text(std::uint64_t kept_bytes, std::uint64_t total_bytes,
                      const std::filesystem::path& part) {
  std::string text = format_size(kept_bytes);
  if (total_bytes > 0) text += " of " + format_size(total_bytes);
  return text + " kept in " + part.string();
}

std::string http_error_message(long status, const OfficialModel& model, const std::string& url) {
  const std::string code = "HTTP " + std::to_string(status);
  if (status == 404 || status == 410)
    return "the server has no file " + model.file_name + " (" + code + ") at " + url +
           ". Check the model name and the download URL.";
  if (status == 401 || status == 403)
    return "the server refused to send " + model.file_name + " (" + code + ") from " + url +
           ". Check the download URL, and any proxy or mirror in between.";
  if (status == 429)
    return "the server is limiting downloads (" + code + ") of " + model.file_name +
           ". Wait a few minutes and run the same command again to resume.";
  if (status >= 500)
    return "the server failed to send " + model.file_name + " (" + code + ") from " + url +
           ". This is usually temporary: run the same command again later to resume.";
  return "the server answered " + code + " to the download of " + model.file_name + " from " + url + ".";
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

void sync_directory(const std::filesystem::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

}  // namespace

std::string sha1_file_hex(const std::filesystem::path& path) {
  return *sha1_file_hex_cancellable(path, nullptr);
}

std::filesystem::path download_model(const OfficialModel& model, const DownloadOptions& options) {
  ensure_curl_initialized();
  const std::filesystem::path directory = models_directory();
  const std::filesystem::path final_path = directory / model.file_name;
  const std::filesystem::path part_path = directory / (model.file_name + ".part");
  {
    std::error_code error;
    if (std::filesystem::is_regular_file(final_path, error)) return final_path;
    std::filesystem::create_directories(directory, error);
    if (error)
      throw Error("cannot create the models directory " + directory.string() + " (" + error.message() +
                  "). Set NPUSCRIBE_MODELS_DIR to a writable directory.");
  }

  UniqueFd fd(::open(part_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    throw Error(part_path.string() + ": cannot create (" + std::strerror(errno) +
                "). Check that the models directory is writable, or set NPUSCRIBE_MODELS_DIR.");
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
    throw Error("another download of " + model.file_name + " is running (" + part_path.string() +
                " is locked). Wait for it to finish.");
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0)
    throw Error(part_path.string() + ": cannot stat (" + std::strerror(errno) + ").");

  Transfer transfer(model, options);
  transfer.fd = fd.get();
  transfer.directory = directory;
  transfer.part_path = part_path;
  transfer.resume_from_bytes = static_cast<std::uint64_t>(info.st_size);
  if (transfer.resume_from_bytes > transfer.size_limit_bytes()) {
    // Larger than the model can be: not a prefix of it.
    if (::ftruncate(fd.get(), 0) != 0)
      throw Error(part_path.string() + ": cannot truncate (" + std::strerror(errno) + ").");
    transfer.resume_from_bytes = 0;
  }
  transfer.file_bytes = transfer.resume_from_bytes;
  if (::lseek(fd.get(), static_cast<off_t>(transfer.file_bytes), SEEK_SET) < 0)
    throw Error(part_path.string() + ": cannot seek (" + std::strerror(errno) + ").");

  std::string base_url = options.base_url;
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  const std::string url = base_url + "/" + model.file_name;
  const bool https = url.rfind("https://", 0) == 0;

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("cannot start a download: libcurl failed to initialise.");
  transfer.curl = curl.get();
  char error_text[CURL_ERROR_SIZE] = {};
  const std::string range = std::to_string(transfer.resume_from_bytes) + "-";
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  // Hugging Face redirects to its CDN; never let a redirect downgrade https to http.
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "npuscribe");
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  if (options.connect_timeout_s > 0)
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  if (options.low_speed_timeout_s > 0) {
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, options.low_speed_timeout_s);
  }
  if (transfer.resume_from_bytes > 0) curl_easy_setopt(handle, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, header_callback);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, progress_callback);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);

  const CURLcode code = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  if (status == 416 && transfer.resume_from_bytes > 0) transfer.range_not_satisfiable = true;

  // Drops an empty .part (nothing worth resuming) and closes it.
  const auto release_part = [&] {
    const bool empty = transfer.file_bytes == 0;
    fd.reset();
    if (empty) remove_quietly(part_path);
  };

  if (transfer.callback_exception) {
    release_part();
    std::rethrow_exception(transfer.callback_exception);
  }
  if (transfer.cancelled || (code == CURLE_ABORTED_BY_CALLBACK && cancel_requested(options.cancel))) {
    const std::uint64_t kept_bytes = transfer.file_bytes;
    release_part();
    throw DownloadCancelled("download of " + model.file_name + " cancelled" +
                            (kept_bytes > 0 ? "; " + kept_text(kept_bytes, transfer.total_bytes, part_path) +
                                                  ". Run the same command again to resume it."
                                            : "."));
  }
  if (transfer.failure != Failure::none) {
    if (transfer.part_is_garbage) {
      fd.reset();
      remove_quietly(part_path);
    } else {
      release_part();
    }
    throw Error(transfer.failure_message);
  }

  if (transfer.range_not_satisfiable) {
    // The .part already holds every byte the server has (an earlier run stopped before verifying): verify it.
    transfer.total_bytes = transfer.range_total_bytes.value_or(0);
  } else if (status >= 400) {
    release_part();
    throw Error(http_error_message(status, model, url));
  } else if (code != CURLE_OK) {
    const std::uint64_t kept_bytes = transfer.file_bytes;
    release_part();
    std::string message =
        "downloading " + model.file_name + " from " + url + " failed: " + curl_easy_strerror(code);
    if (error_text[0] != '\0') message += std::string(" (") + error_text + ")";
    message += ". ";
    if (kept_bytes > 0) message += kept_text(kept_bytes, transfer.total_bytes, part_path) + ". ";
    message += "Check the network connection and run the same command again" +
               std::string(kept_bytes > 0 ? " to resume." : ".");
    throw Error(message);
  } else if (status != 200 && status != 206) {
    release_part();
    throw Error("the server answered HTTP " + std::to_string(status) + " to the download of " +
                model.file_name + " from " + url + " instead of sending the file.");
  }

  // Verify the complete file (for a resumed download that includes the bytes of earlier runs).
  if (::fsync(fd.get()) != 0) {
    const int saved = errno;
    release_part();
    throw Error(part_path.string() + ": cannot write to disk (" + std::strerror(saved) + ").");
  }
  struct stat written {};
  ::fstat(fd.get(), &written);
  const auto size_bytes = static_cast<std::uint64_t>(written.st_size);
  const auto discard = [&](const std::string& why) {
    fd.reset();
    remove_quietly(part_path);
    throw Error("the download of " + model.file_name + " was corrupted: " + why +
                ". The damaged file was deleted; run the same command again to download it afresh.");
  };
  if (transfer.total_bytes > 0 && size_bytes != transfer.total_bytes)
    discard("it has " + std::to_string(size_bytes) + " bytes, the server announced " +
            std::to_string(transfer.total_bytes));
  if (!size_plausible(model, size_bytes))
    discard("it has " + std::to_string(size_bytes) + " bytes, " +
            (model.size_is_exact ? "exactly " : "about ") + format_size(model.size_bytes) + " were expected");
  if (!model.sha1.empty()) {
    const std::optional<std::string> actual = sha1_file_hex_cancellable(part_path, options.cancel);
    if (!actual) {
      fd.reset();
      throw DownloadCancelled("download of " + model.file_name + " cancelled while verifying; " +
                              kept_text(size_bytes, transfer.total_bytes, part_path) +
                              ". Run the same command again to resume it.");
    }
    std::string expected = model.sha1;
    for (char& c : expected)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (*actual != expected) discard("its SHA-1 checksum is " + *actual + ", expected " + expected);
  }

  std::error_code error;
  std::filesystem::rename(part_path, final_path, error);
  fd.reset();
  if (error)
    throw Error("cannot move " + part_path.string() + " to " + final_path.string() + " (" + error.message() +
                ").");
  sync_directory(directory);
  transfer.file_bytes = size_bytes;
  transfer.total_bytes = size_bytes;
  transfer.response_started = true;
  transfer.report_progress(true);
  if (transfer.callback_exception) std::rethrow_exception(transfer.callback_exception);
  return final_path;
}

}  // namespace npuscribe
