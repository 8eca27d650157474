// ipvsadm's messages for the errno a table operation returns (libipvs ipvs_strerror()).
#pragma once

#include <string>

#include "model/command.h"

namespace uvs {

// The one-line message ipvsadm prints when `kind` failed with errno `err`.
std::string ipvs_strerror(CommandKind kind, int err);

}  // namespace uvs
