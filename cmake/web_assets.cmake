# Turns a daemon's pages into one table of C arrays at build time (common/web.h), so the daemon serves a fixed
# set of files with types decided here and never opens a file to answer a request. Used twice: the public
# pages of intaked (intake/web/, table web_public) and the staff pages of casemgrd (internal/web/, web_staff),
# each with the files of common/web/ they share.
# Run as: cmake -DNAME=public -DWEB_DIR=... -DOUT=... -DFILES="/abs/a.html|/abs/b.js" [-DVENDOR="/abs/x.js"]
#         -P web_assets.cmake
#
# FILES are served as /<file name>; VENDOR files (third-party libraries and data fetched at build time) as
# /vendor/<file name>. A page starts with <!--#head title="..." script="/x.js"--> (optionally fetch="/api/..."
# before the end), which becomes WEB_DIR's _head.html (the head every page of that table shares) with that
# title and script, preload links for the modules the script imports and for the fetched document. A line
# <!--#include NAME--> becomes WEB_DIR's _NAME.html (e.g. the staff pages' navigation bar). Files whose names
# start with "_" are such fragments and are not passed here.
#
# It also refuses pages that would need a weaker Content-Security-Policy or reach another site: inline
# scripts, event-handler or style attributes, and any absolute http(s) address. Vendored files are exempt from
# the address check (libraries name XML namespaces and their home pages in strings); the browser tests check
# that no request leaves the site.

cmake_policy(VERSION 3.25) # script mode starts with old policies; IN_LIST and list(POP_FRONT) need newer ones
set(types_html "text/html; charset=utf-8")
set(types_css "text/css; charset=utf-8")
set(types_js "text/javascript; charset=utf-8")
set(types_json "application/json")
set(types_svg "image/svg+xml")
set(types_txt "text/plain; charset=utf-8")

if(NOT NAME MATCHES "^[a-z]+$")
  message(FATAL_ERROR "web assets: NAME must be lower-case letters")
endif()
string(REPLACE "|" ";" FILES "${FILES}")
string(REPLACE "|" ";" VENDOR "${VENDOR}")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  set("path_of_${name}" ${f}) # where an imported module's text is
endforeach()
set(arrays "")
set(table "")
set(served "")
set(i 0)
foreach(f ${FILES} ${VENDOR})
  get_filename_component(name ${f} NAME)
  set(url "/${name}")
  set(vendored OFF)
  if(f IN_LIST VENDOR)
    set(url "/vendor/${name}")
    set(vendored ON)
  endif()
  if(url IN_LIST served)
    message(FATAL_ERROR "web asset ${f}: a second file served as ${url}")
  endif()
  list(APPEND served ${url})
  get_filename_component(ext ${f} LAST_EXT)
  string(SUBSTRING "${ext}" 1 -1 ext)
  if(NOT DEFINED types_${ext})
    message(FATAL_ERROR "web asset ${f}: no content type for .${ext}")
  endif()
  file(READ ${f} text)
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
      if(NOT DEFINED "path_of_${module}")
        message(FATAL_ERROR "web asset ${f}: imports ${module}, which is not in the table")
      endif()
      file(READ "${path_of_${module}}" code)
      string(REGEX MATCHALL "from '\\./[a-z0-9_-]+\\.js'" imports "${code}")
      foreach(m ${imports})
        string(REGEX REPLACE "from '\\./([^']+)'" "\\1" m "${m}")
        if(NOT m IN_LIST seen)
          list(APPEND seen ${m})
          list(APPEND todo ${m})
          string(APPEND PRELOAD "<link rel=\"modulepreload\" href=\"/${m}\">\n")
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
  while(NOT vendored AND text MATCHES "<!--#include ([a-z]+)-->\n")
    set(fragment ${WEB_DIR}/_${CMAKE_MATCH_1}.html)
    if(NOT EXISTS ${fragment})
      message(FATAL_ERROR "web asset ${f}: includes ${fragment}, which does not exist")
    endif()
    file(READ ${fragment} part)
    string(REPLACE "<!--#include ${CMAKE_MATCH_1}-->\n" "${part}" text "${text}")
  endwhile()
  if(NOT vendored AND text MATCHES "https?://")
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
  if(vendored)
    file(READ ${f} hex HEX) # byte for byte: file(READ) as text would stop at a NUL
  else()
    file(WRITE ${OUT}.asset "${text}")
    file(READ ${OUT}.asset hex HEX)
  endif()
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "((0x..,){24})" "\\1\n" hex "${hex}")
  string(APPEND arrays "static const unsigned char asset${i}[${n}] = {\n${hex}\n};\n")
  string(APPEND table "\t{\"${url}\", \"${types_${ext}}\", asset${i}, ${n}},\n")
  math(EXPR i "${i} + 1")
endforeach()

file(WRITE ${OUT}.tmp "/* Generated by cmake/web_assets.cmake (table ${NAME}); do not edit. */\n"
  "#include \"common/web.h\"\n\n${arrays}\nstatic const struct web_asset assets[] = {\n${table}};\n"
  "const struct web_table web_${NAME} = {assets, ${i}};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
