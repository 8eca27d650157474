// genl::ControlPlane over uvs's ctl::Control: what uvsd hands to genl::Handler. Uses only
// Control's public API, so the handler sees exactly what uvsadm's requests see.
#pragma once

#include "ctl/control.h"
#include "genl/handler.h"

namespace uvs::genl {

class ControlAdapter : public ControlPlane {
 public:
  explicit ControlAdapter(ctl::Control& control) : control_(control) {}

  int apply(const Command& cmd) override;
  TableView table() override;
  TableView summary() override;
  std::optional<ServiceView> service(const ServiceKey& key) override;

 private:
  ctl::Control& control_;
};

}  // namespace uvs::genl
