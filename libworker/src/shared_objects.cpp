#include "colony/worker/shared_objects.hpp"

#include "colony/session/context.hpp"
#include "colony/session/contract.hpp"

namespace colony {
namespace detail {
namespace {


template <class Object>
std::shared_ptr<Object> open_object(const std::string& name, shm::SegmentKind kind) {
  auto context = Context::current();
  return context->resolve_object<Object>(name, [&]() {
    auto opened = Object::open(context->session().name(kind, name), shm::Deadline::after(detail::kSegmentPublishWait));
    if (!opened) throw WorkerError(WorkerErrc::not_found, opened.error().message);
    return std::make_shared<Object>(std::move(*opened));
  });
}

template <class Object, class Create>
std::shared_ptr<Object> create_object(std::string_view name, std::string_view prefix, shm::SegmentKind kind,
                                      Create&& create) {
  auto context = Context::current();
  if (!name.empty() && is_reserved_object_name(name)) {
    throw WorkerError(WorkerErrc::bad_state, "the name '" + std::string(name) +
                                                 "' is reserved for Colony's own segments (ol<N>, ch<N>, w<N>g<G>-...)");
  }
  const std::string object = name.empty() ? unique_object_name(prefix) : std::string(name);
  auto made = create(context->session().name(kind, object));
  if (!made) throw WorkerError(WorkerErrc::os_error, made.error().message);
  (void)context->session().register_object(kind, object, context->slot(), context->generation());
  auto shared = std::make_shared<Object>(std::move(*made));
  return context->resolve_object<Object>(object, [&]() { return shared; });
}

}  // namespace

std::string unique_object_name(std::string_view prefix) {
  auto context = Context::current();
  return std::string(prefix) + std::to_string(context->session().header().next_object_id.fetch_add(1));
}

std::shared_ptr<shm::ByteArray> resolve_byte_array(const std::string& name) {
  return open_object<shm::ByteArray>(name, shm::SegmentKind::bytes);
}
std::shared_ptr<shm::Mutex> resolve_mutex(const std::string& name) {
  return open_object<shm::Mutex>(name, shm::SegmentKind::mutex);
}
std::shared_ptr<shm::Condition> resolve_condition(const std::string& name) {
  return open_object<shm::Condition>(name, shm::SegmentKind::condition);
}

}  // namespace detail

SharedByteArray SharedByteArray::create(std::size_t capacity, std::string_view name) {
  return SharedByteArray(detail::create_object<shm::ByteArray>(
      name, "b", shm::SegmentKind::bytes,
      [capacity](const shm::SegmentName& segment) { return shm::ByteArray::create(segment, capacity, capacity); }));
}
SharedByteArray SharedByteArray::open(std::string_view name) {
  return SharedByteArray(detail::resolve_byte_array(std::string(name)));
}

SharedMutex SharedMutex::create(std::string_view name) {
  return SharedMutex(detail::create_object<shm::Mutex>(
      name, "m", shm::SegmentKind::mutex, [](const shm::SegmentName& segment) { return shm::Mutex::create(segment); }));
}
SharedMutex SharedMutex::open(std::string_view name) { return SharedMutex(detail::resolve_mutex(std::string(name))); }

SharedCondition SharedCondition::create(std::string_view name) {
  return SharedCondition(detail::create_object<shm::Condition>(
      name, "c", shm::SegmentKind::condition,
      [](const shm::SegmentName& segment) { return shm::Condition::create(segment); }));
}
SharedCondition SharedCondition::open(std::string_view name) {
  return SharedCondition(detail::resolve_condition(std::string(name)));
}

}  // namespace colony
