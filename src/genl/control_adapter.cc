#include "genl/control_adapter.h"

namespace uvs::genl {

int ControlAdapter::apply(const Command& cmd) { return control_.apply(cmd); }

TableView ControlAdapter::table() { return control_.table(); }

TableView ControlAdapter::summary() { return control_.summary(); }

std::optional<ServiceView> ControlAdapter::service(const ServiceKey& key) {
  return control_.service(key);
}

}  // namespace uvs::genl
