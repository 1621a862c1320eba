// JournalReader: reads the systemd journal through libsystemd's sd-journal (a `journal`
// scrape config, as Promtail's): the local journal, or the journal files of one directory.
//
// Start position, as Promtail: at the saved cursor (the entry after it) unless that entry is
// older than max_age or no longer exists; otherwise at now - max_age. An entry is identified
// by its cursor string; the caller persists the cursor of the last acknowledged entry.
//
// fd() becomes readable when the journal changed (new entries, new or rotated files); call
// Process() then, and Next() until it returns false.
//
// Thread-safety: none; the event-loop thread owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "query/base/status.h"

namespace logq::shipper {

struct JournalEntry {
  int64_t realtime_ns = 0;
  std::string cursor;
  std::vector<std::pair<std::string, std::string>> fields;  // FIELD, value (as stored)
};

class JournalReader {
 public:
  // `path` empty: the local journal (SD_JOURNAL_LOCAL_ONLY); else the journal files in that
  // directory. `cursor` empty: no saved position. Errors name the path.
  static Result<std::unique_ptr<JournalReader>> Open(const std::string& path, const std::string& cursor,
                                                     int64_t max_age_ns, int64_t now_wall_ns);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  int fd() const { return fd_; }
  // Acknowledges journal changes (after fd() was readable).
  void Process();
  // The next entry; false when there is none yet. Internal error on a read failure.
  Result<bool> Next(JournalEntry* out);
  // How the start position was chosen (for the log).
  const std::string& start_note() const { return start_note_; }

 private:
  JournalReader() = default;
  void* j_ = nullptr;  // sd_journal*
  int fd_ = -1;
  bool at_entry_ = false;  // the journal is positioned ON an entry not yet returned
  std::string start_note_;
};

// Promtail's priority keywords: "0" → "emerg", ..., "3" → "error", "4" → "warning", ...,
// "7" → "debug"; anything else is returned as it is.
std::string JournalPriorityKeyword(const std::string& priority);

}  // namespace logq::shipper
