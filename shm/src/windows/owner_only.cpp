// Owner-only security descriptors and object names on Windows.
#include "owner_only.hpp"

#include <aclapi.h>
#include <sddl.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace colony::shm::platform {
namespace {

struct UserSid {
  std::vector<std::byte> buffer;
  PSID sid() noexcept { return buffer.empty() ? nullptr : reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid; }
};

UserSid read_token_user() noexcept {
  UserSid user;
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return user;
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  if (size != 0) {
    user.buffer.resize(size);
    if (!::GetTokenInformation(token, TokenUser, user.buffer.data(), size, &size)) user.buffer.clear();
  }
  ::CloseHandle(token);
  return user;
}

UserSid& this_user() noexcept {
  static UserSid user = read_token_user();
  return user;
}

struct OwnerOnly {
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  SECURITY_ATTRIBUTES attributes{};
  OwnerOnly() noexcept {
    LPWSTR sid_text = nullptr;
    PSID sid = this_user().sid();
    if (sid == nullptr || !::ConvertSidToStringSidW(sid, &sid_text)) return;
    // This user as the owner, and a protected DACL (no inherited entries) with
    // one entry: all access for this user.
    const std::wstring sid_string(sid_text);
    const std::wstring sddl = L"O:" + sid_string + L"D:P(A;;GA;;;" + sid_string + L")";
    ::LocalFree(sid_text);
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &descriptor, nullptr)) {
      descriptor = nullptr;
      return;
    }
    attributes.nLength = sizeof(attributes);
    attributes.lpSecurityDescriptor = descriptor;
    attributes.bInheritHandle = FALSE;
  }
};

}  // namespace

SECURITY_ATTRIBUTES* owner_only_attributes() noexcept {
  static OwnerOnly owner_only;
  return owner_only.descriptor != nullptr ? &owner_only.attributes : nullptr;
}

bool owned_by_this_user(HANDLE handle) noexcept {
  PSID owner = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  // GetSecurityInfo is in advapi32 and returns a Win32 error code, not BOOL.
  if (::GetSecurityInfo(handle, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, nullptr, nullptr, nullptr,
                        &descriptor) != ERROR_SUCCESS) {
    return false;
  }
  PSID self = this_user().sid();
  const bool ours = owner != nullptr && self != nullptr && ::EqualSid(owner, self);
  ::LocalFree(descriptor);
  return ours;
}

std::wstring local_object_name(std::string_view name) {
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  std::wstring wide = L"Local\\";
  // Colony's names are ASCII (segment_name.cpp checks them).
  for (const char c : name) wide.push_back(static_cast<wchar_t>(static_cast<unsigned char>(c)));
  return wide;
}

std::string describe_windows_error(unsigned long code) {
  LPSTR text = nullptr;
  const DWORD length = ::FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0,
      reinterpret_cast<LPSTR>(&text), 0, nullptr);
  std::string message = length != 0 ? std::string(text, length) : std::string("Windows error");
  if (text != nullptr) ::LocalFree(text);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == '.')) {
    message.pop_back();
  }
  return message + " (error " + std::to_string(code) + ")";
}

int errno_of_windows_error(unsigned long code) noexcept {
  switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND: return ENOENT;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS: return EEXIST;
    case ERROR_ACCESS_DENIED: return EACCES;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT: return ENOMEM;
    case ERROR_DISK_FULL: return ENOSPC;
    case ERROR_INVALID_PARAMETER: return EINVAL;
    default: return EIO;
  }
}

}  // namespace colony::shm::platform
