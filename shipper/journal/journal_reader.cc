#include "shipper/journal/journal_reader.h"

#include <systemd/sd-journal.h>

#include <cstdlib>
#include <cstring>

namespace logq::shipper {
namespace {

sd_journal* J(void* p) { return static_cast<sd_journal*>(p); }

std::string Err(int r) { return std::strerror(r < 0 ? -r : r); }

}  // namespace

Result<std::unique_ptr<JournalReader>> JournalReader::Open(const std::string& path, const std::string& cursor,
                                                           int64_t max_age_ns, int64_t now_wall_ns) {
  std::unique_ptr<JournalReader> r(new JournalReader());
  sd_journal* j = nullptr;
  int rc = path.empty() ? sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) : sd_journal_open_directory(&j, path.c_str(), 0);
  if (rc < 0) {
    return Unavailable("journal " + (path.empty() ? std::string("(local)") : path) + ": open: " + Err(rc));
  }
  r->j_ = j;
  rc = sd_journal_get_fd(j);
  if (rc < 0) return Unavailable("journal " + path + ": sd_journal_get_fd: " + Err(rc));
  r->fd_ = rc;
  int64_t since_ns = now_wall_ns - max_age_ns;
  bool positioned = false;
  if (!cursor.empty() && sd_journal_seek_cursor(j, cursor.c_str()) >= 0 && sd_journal_next(j) > 0) {
    uint64_t usec = 0;
    if (sd_journal_get_realtime_usec(j, &usec) >= 0 && static_cast<int64_t>(usec) * 1000 >= since_ns) {
      if (sd_journal_test_cursor(j, cursor.c_str()) > 0) {
        r->at_entry_ = false;  // on the saved (already acknowledged) entry: continue after it
        r->start_note_ = "after the saved cursor";
      } else {
        r->at_entry_ = true;  // the saved entry is gone: this is the first one after it
        r->start_note_ = "at the first entry after the saved cursor (that entry no longer exists)";
      }
      positioned = true;
    } else {
      r->start_note_ = "saved cursor older than max_age: ";
    }
  } else if (!cursor.empty()) {
    r->start_note_ = "saved cursor not found: ";
  }
  if (!positioned) {
    rc = sd_journal_seek_realtime_usec(j, static_cast<uint64_t>(since_ns > 0 ? since_ns / 1000 : 0));
    if (rc < 0) return Internal("journal " + path + ": seek: " + Err(rc));
    r->at_entry_ = false;
    r->start_note_ += "entries from max_age ago";
  }
  return r;
}

JournalReader::~JournalReader() {
  if (j_) sd_journal_close(J(j_));
}

void JournalReader::Process() { sd_journal_process(J(j_)); }

Result<bool> JournalReader::Next(JournalEntry* out) {
  sd_journal* j = J(j_);
  if (!at_entry_) {
    int rc = sd_journal_next(j);
    if (rc < 0) return Internal("journal: next: " + Err(rc));
    if (rc == 0) return false;
  }
  at_entry_ = false;
  uint64_t usec = 0;
  int rc = sd_journal_get_realtime_usec(j, &usec);
  if (rc < 0) return Internal("journal: realtime: " + Err(rc));
  out->realtime_ns = static_cast<int64_t>(usec) * 1000;
  char* c = nullptr;
  rc = sd_journal_get_cursor(j, &c);
  if (rc < 0) return Internal("journal: cursor: " + Err(rc));
  out->cursor = c;
  std::free(c);
  out->fields.clear();
  const void* data = nullptr;
  size_t len = 0;
  sd_journal_restart_data(j);
  while (sd_journal_enumerate_data(j, &data, &len) > 0) {
    std::string_view f(static_cast<const char*>(data), len);
    size_t eq = f.find('=');
    if (eq == std::string_view::npos) continue;
    out->fields.emplace_back(std::string(f.substr(0, eq)), std::string(f.substr(eq + 1)));
  }
  return true;
}

std::string JournalPriorityKeyword(const std::string& p) {
  static const char* kNames[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
  if (p.size() == 1 && p[0] >= '0' && p[0] <= '7') return kNames[p[0] - '0'];
  return p;
}

}  // namespace logq::shipper
