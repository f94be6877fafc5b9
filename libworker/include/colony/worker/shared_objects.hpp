#pragma once
// The shared objects among AIR's reference kinds: a shareable byte array, a
// mutex and a condition, each in a named segment of the session. A handle
// serializes as the object's name; loading it in any process of the session
// maps the same segment, and loading it twice in one process gives handles to
// the same mapping (operator== is true). The segments live until the session
// ends.
//
//   auto frame = colony::SharedByteArray::create(1 << 20);
//   worker.post_message(frame);                  // the worker sees the same bytes
//   frame->store<std::uint32_t>(0, 42);          // every shm::ByteArray operation

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "colony/shm/byte_array.hpp"
#include "colony/shm/condition.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/type_registry.hpp"

namespace colony {

namespace detail {
// Resolves a name to this process's one mapping of it (opening it if needed).
std::shared_ptr<shm::ByteArray> resolve_byte_array(const std::string& name);
std::shared_ptr<shm::Mutex> resolve_mutex(const std::string& name);
std::shared_ptr<shm::Condition> resolve_condition(const std::string& name);
std::string unique_object_name(std::string_view prefix);
}  // namespace detail

template <class Object, std::shared_ptr<Object> (*Resolve)(const std::string&)>
class SharedHandle {
 public:
  SharedHandle() = default;
  explicit SharedHandle(std::shared_ptr<Object> object) : object_(std::move(object)) {}

  bool valid() const noexcept { return object_ != nullptr; }
  Object& operator*() const noexcept { return *object_; }
  Object* operator->() const noexcept { return object_.get(); }
  // The object's name within the session (what `colony` commands take).
  const std::string& name() const { return object_->name().name(); }
  friend bool operator==(const SharedHandle& a, const SharedHandle& b) noexcept { return a.object_ == b.object_; }

  template <class A> void save(A& archive) const { archive(std::string(name())); }
  template <class A> void load(A& archive) {
    std::string object_name;
    archive(object_name);
    object_ = Resolve(object_name);
  }

 protected:
  std::shared_ptr<Object> object_;
};

class SharedByteArray : public SharedHandle<shm::ByteArray, &detail::resolve_byte_array> {
 public:
  using SharedHandle::SharedHandle;
  // A new array of capacity bytes (its length, too), zero-filled, in the
  // current worker's session; an empty name picks a unique one.
  static SharedByteArray create(std::size_t capacity, std::string_view name = {});
  static SharedByteArray open(std::string_view name);
};

class SharedMutex : public SharedHandle<shm::Mutex, &detail::resolve_mutex> {
 public:
  using SharedHandle::SharedHandle;
  static SharedMutex create(std::string_view name = {});
  static SharedMutex open(std::string_view name);
};

class SharedCondition : public SharedHandle<shm::Condition, &detail::resolve_condition> {
 public:
  using SharedHandle::SharedHandle;
  static SharedCondition create(std::string_view name = {});
  static SharedCondition open(std::string_view name);
};

}  // namespace colony

COLONY_REGISTER_TYPE(colony::SharedByteArray, "colony.ref.bytes")
COLONY_REGISTER_TYPE(colony::SharedMutex, "colony.ref.mutex")
COLONY_REGISTER_TYPE(colony::SharedCondition, "colony.ref.condition")
