#pragma once
// A process held by a handle that stays its own after it ends, so a reused
// pid cannot pass for it: tests that watch the order in which processes end.
// Implemented per platform, under this file's name in linux/ (a Windows port
// adds windows/).

namespace colony::test {

class ProcessHandle {
 public:
  // Holds the process that has pid now; held() is false if there is none.
  explicit ProcessHandle(int pid);
  ProcessHandle(ProcessHandle&& other) noexcept;
  ProcessHandle& operator=(ProcessHandle&&) = delete;
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;
  ~ProcessHandle();

  bool held() const noexcept { return handle_ >= 0; }
  // True once the held process has ended (reaped or not); never blocks.
  bool ended() const;

 private:
  int handle_ = -1;
};

}  // namespace colony::test
