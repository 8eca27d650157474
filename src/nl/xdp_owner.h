// Who holds an interface's XDP hook: when uvsd cannot attach, the operator should learn that
// another program (most often another uvsd) is there, not read the kernel's EBUSY/EEXIST.
#pragma once

#include <optional>
#include <string>

namespace uvs::nl {

// "IF already has an XDP program (id N, name X)" when one is attached to IF (native, generic
// or offloaded), nullopt when none is or IF does not exist.
std::optional<std::string> xdp_owner(const std::string& ifname);

}  // namespace uvs::nl
