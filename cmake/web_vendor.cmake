# Fetches the third-party files of the staff pages from the npm registry at build time, exactly the versions
# pinned (with their integrity hashes) in internal/web-vendor/package-lock.json, and copies out the files the
# pages use; casemgrd then carries them compiled in, so the internal network needs no internet.
# Run as: cmake -DSRC=<internal/web-vendor> -DDIR=<build dir> -P web_vendor.cmake
# Versions and licences: internal/web-vendor/README.md.

find_program(NPM npm)
if(NOT NPM)
  message(FATAL_ERROR "npm is needed to fetch the staff pages' chart library (internal/web-vendor)")
endif()
file(MAKE_DIRECTORY ${DIR})
file(COPY ${SRC}/package.json ${SRC}/package-lock.json DESTINATION ${DIR})
execute_process(COMMAND ${NPM} ci --prefix ${DIR} --no-audit --no-fund --ignore-scripts --loglevel=error
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "npm ci in ${DIR} failed (${rc})")
endif()
# ECharts 5 with everything (the map series included) in one file; the map is ECharts 4's China map, whose
# features carry the GB/T 2260 province codes as ids.
file(COPY_FILE ${DIR}/node_modules/echarts/dist/echarts.min.js ${DIR}/echarts.min.js)
file(COPY_FILE ${DIR}/node_modules/echarts-map-data/map/json/china.json ${DIR}/china.json)
