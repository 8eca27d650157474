// uvsadm's own help and version text.
#pragma once

#include <string>

namespace uvs::cli {

std::string version_line(const std::string& progname);
std::string help_text(const std::string& progname);

}  // namespace uvs::cli
