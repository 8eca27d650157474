#include "http/assets.h"

// The files' bytes, placed in .rodata by the assembler at build time (paths from CMake).
#define UVS_INCBIN(name, path)                                                   \
  asm(".section .rodata\n"                                                       \
      ".global " #name "_begin\n" #name "_begin:\n"                              \
      ".incbin \"" path "\"\n"                                                   \
      ".global " #name "_end\n" #name "_end:\n"                                  \
      ".byte 0\n"                                                                \
      ".previous\n")

UVS_INCBIN(uvs_page_html, UVS_PAGE_HTML);
UVS_INCBIN(uvs_chart_js, UVS_CHART_JS);

extern "C" const char uvs_page_html_begin[], uvs_page_html_end[];
extern "C" const char uvs_chart_js_begin[], uvs_chart_js_end[];

namespace uvs::http {

std::string_view page_html() {
  return {uvs_page_html_begin, static_cast<size_t>(uvs_page_html_end - uvs_page_html_begin)};
}

std::string_view chart_js() {
  return {uvs_chart_js_begin, static_cast<size_t>(uvs_chart_js_end - uvs_chart_js_begin)};
}

}  // namespace uvs::http
