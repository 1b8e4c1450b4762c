# Turns the public pages (intake/web/) into C arrays at build time, so intaked serves a fixed set of files
# with types decided here and never opens a file to answer a request.
# Run as: cmake -DWEB_DIR=... -DOUT=... -DFILES="a.html|b.js" -P web_assets.cmake
#
# A page starts with <!--#head title="..." script="/x.js"-->, which becomes _head.html (the head every page
# shares) with that title and script; files whose names start with "_" are such fragments and are not served.
#
# It also refuses pages that would need a weaker Content-Security-Policy or reach another site: inline
# scripts, event-handler or style attributes, and any absolute http(s) address.

set(types_html "text/html; charset=utf-8")
set(types_css "text/css; charset=utf-8")
set(types_js "text/javascript; charset=utf-8")
set(types_svg "image/svg+xml")
set(types_txt "text/plain; charset=utf-8")

string(REPLACE "|" ";" FILES "${FILES}")
set(arrays "")
set(table "")
set(i 0)
foreach(f ${FILES})
  get_filename_component(ext ${f} LAST_EXT)
  string(SUBSTRING "${ext}" 1 -1 ext)
  if(NOT DEFINED types_${ext})
    message(FATAL_ERROR "web asset ${f}: no content type for .${ext}")
  endif()
  file(READ ${WEB_DIR}/${f} text)
  if(text MATCHES "^<!--#head title=\"([^\"]*)\" script=\"([^\"]*)\"-->\n")
    set(TITLE "${CMAKE_MATCH_1}")
    set(SCRIPT "${CMAKE_MATCH_2}")
    file(READ ${WEB_DIR}/_head.html head)
    string(CONFIGURE "${head}" head @ONLY)
    string(REGEX REPLACE "^<!--#head [^\n]*\n" "${head}" text "${text}")
  endif()
  if(text MATCHES "https?://")
    message(FATAL_ERROR "web asset ${f}: names an absolute address; every resource must come from the site")
  endif()
  if(ext STREQUAL "html")
    if(text MATCHES "<script[^>]*>[^<]")
      message(FATAL_ERROR "web asset ${f}: inline script")
    endif()
    if(text MATCHES "[ \t\n]on[a-z]+[ \t]*=" OR text MATCHES "[ \t\n]style[ \t]*=" OR text MATCHES "<style")
      message(FATAL_ERROR "web asset ${f}: inline event handler or style")
    endif()
  endif()
  file(WRITE ${OUT}.asset "${text}")
  file(READ ${OUT}.asset hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "((0x..,){24})" "\\1\n" hex "${hex}")
  string(APPEND arrays "static const unsigned char asset${i}[${n}] = {\n${hex}\n};\n")
  string(APPEND table "\t{\"/${f}\", \"${types_${ext}}\", asset${i}, ${n}},\n")
  math(EXPR i "${i} + 1")
endforeach()

file(WRITE ${OUT}.tmp "/* Generated from intake/web by cmake/web_assets.cmake; do not edit. */\n"
  "#include \"intake/web.h\"\n\n${arrays}\nconst struct web_asset web_assets[] = {\n${table}};\n"
  "const size_t web_asset_count = ${i};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
