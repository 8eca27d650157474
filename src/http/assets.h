// Files built into uvsd (src/http/assets.cc): the live page and Debian's Chart.js
// (libjs-chart.js), so that the page needs nothing from elsewhere at run time.
#pragma once

#include <string_view>

namespace uvs::http {

std::string_view page_html();
std::string_view chart_js();

}  // namespace uvs::http
