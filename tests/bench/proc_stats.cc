#include "tests/bench/proc_stats.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace logq::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fields of a /proc/.../stat line after the "(comm)" field; [0] is field 3 (state).
std::vector<std::string> StatFields(const std::string& stat) {
  std::vector<std::string> out;
  size_t p = stat.rfind(')');
  if (p == std::string::npos) return out;
  std::istringstream in(stat.substr(p + 1));
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

CpuTimes CpuFromStat(const std::string& stat) {
  static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<std::string> f = StatFields(stat);
  CpuTimes t;
  if (f.size() > 12) {  // utime is field 14, stime field 15
    t.user_s = std::strtod(f[11].c_str(), nullptr) / kTicks;
    t.system_s = std::strtod(f[12].c_str(), nullptr) / kTicks;
  }
  return t;
}

int64_t StatusKb(const std::string& status, std::string_view key) {
  size_t p = status.find(key);
  if (p == std::string::npos) return 0;
  return std::strtoll(status.c_str() + p + key.size(), nullptr, 10);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CpuTimes ReadProcessCpu(pid_t pid) {
  return CpuFromStat(ReadFile("/proc/" + std::to_string(pid) + "/stat"));
}

std::map<pid_t, ThreadCpu> ReadThreadCpu(pid_t pid) {
  std::map<pid_t, ThreadCpu> out;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string tid = e.path().filename().string();
    ThreadCpu t;
    t.name = ReadFile(dir + "/" + tid + "/comm");
    while (!t.name.empty() && (t.name.back() == '\n' || t.name.back() == ' ')) t.name.pop_back();
    t.seconds = CpuFromStat(ReadFile(dir + "/" + tid + "/stat")).total();
    std::istringstream sched(
        ReadFile(dir + "/" + tid + "/schedstat"));  // "<on-cpu ns> <wait ns> <slices>"
    double on_cpu_ns = 0, wait_ns = 0;
    if (sched >> on_cpu_ns >> wait_ns) t.wait_seconds = wait_ns / 1e9;
    out[static_cast<pid_t>(std::atoi(tid.c_str()))] = t;
  }
  return out;
}

std::map<std::string, double> CpuByThreadName(const std::map<pid_t, ThreadCpu>& before,
                                              const std::map<pid_t, ThreadCpu>& after) {
  std::map<std::string, double> out;
  for (const auto& [tid, t] : after) {
    auto it = before.find(tid);
    const double delta = t.seconds - (it == before.end() ? 0.0 : it->second.seconds);
    out[t.name] += delta;
  }
  return out;
}

double RunQueueWait(const std::map<pid_t, ThreadCpu>& before,
                    const std::map<pid_t, ThreadCpu>& after) {
  double total = 0;
  for (const auto& [tid, t] : after) {
    auto it = before.find(tid);
    total += t.wait_seconds - (it == before.end() ? 0.0 : it->second.wait_seconds);
  }
  return total;
}

MachineCpu ReadMachineCpu() {
  static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::istringstream in(ReadFile("/proc/stat"));
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  MachineCpu m;
  if (in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
      cpu == "cpu") {
    m.busy_s = (user + nice + system + irq + softirq + steal) / kTicks;
    m.idle_s = (idle + iowait) / kTicks;
  }
  return m;
}

Memory ReadMemory(pid_t pid) {
  const std::string s = ReadFile("/proc/" + std::to_string(pid) + "/status");
  return Memory{StatusKb(s, "VmHWM:") * 1024, StatusKb(s, "VmRSS:") * 1024};
}

DiskUsage ScanDirectory(const std::string& path) {
  DiskUsage u;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const std::string name = it->path().filename().string();
    const int64_t size = st.st_size;
    if (EndsWith(name, ".sst"))
      u.sst += size;
    else if (EndsWith(name, ".blob"))
      u.blob += size;
    else if (EndsWith(name, ".log"))
      u.wal += size;
    else if (EndsWith(name, ".seg"))
      u.segments += size;
    else if (name.rfind("checkpoint.", 0) == 0)
      u.checkpoints += size;
    else
      u.other += size;
    u.allocated += static_cast<int64_t>(st.st_blocks) * 512;
  }
  return u;
}

}  // namespace logq::bench
