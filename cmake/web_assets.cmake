# Turns the public pages (intake/web/) into C arrays at build time, so intaked serves a fixed set of files
# with types decided here and never opens a file to answer a request.
# Run as: cmake -DWEB_DIR=... -DOUT=... -DFILES="a.html|b.js" -P web_assets.cmake
#
# A page starts with <!--#head title="..." script="/x.js"--> (optionally fetch="/api/..." before the end), which
# becomes _head.html (the head every page shares) with that title and script, preload links for the modules the
# script imports and for the fetched document; files whose names start with "_" are such fragments and are not
# served.
#
# It also refuses pages that would need a weaker Content-Security-Policy or reach another site: inline
# scripts, event-handler or style attributes, and any absolute http(s) address.
cmake_policy(VERSION 3.25) # script mode starts with old policies; IN_LIST and list(POP_FRONT) need newer ones

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
  if(text MATCHES "^<!--#head title=\"([^\"]*)\" script=\"/([^\"]*)\"( fetch=\"([^\"]*)\")?-->\n")
    set(TITLE "${CMAKE_MATCH_1}")
    set(SCRIPT "/${CMAKE_MATCH_2}")
    set(FETCH "${CMAKE_MATCH_4}")
    # The modules the script imports, directly or not, are named in the head too, so that the browser fetches them
    # alongside the script instead of one round trip after it; so is the page's first API document (fetch=...).
    set(PRELOAD "")
    set(todo ${CMAKE_MATCH_2})
    set(seen ${CMAKE_MATCH_2})
    while(todo)
      list(POP_FRONT todo module)
      file(READ ${WEB_DIR}/${module} code)
      string(REGEX MATCHALL "from '\\./[a-z0-9_-]+\\.js'" imports "${code}")
      foreach(i ${imports})
        string(REGEX REPLACE "from '\\./([^']+)'" "\\1" i "${i}")
        if(NOT i IN_LIST seen)
          list(APPEND seen ${i})
          list(APPEND todo ${i})
          string(APPEND PRELOAD "<link rel=\"modulepreload\" href=\"/${i}\">\n")
        endif()
      endforeach()
    endwhile()
    if(FETCH)
      string(APPEND PRELOAD "<link rel=\"preload\" href=\"${FETCH}\" as=\"fetch\" crossorigin>\n")
    endif()
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
