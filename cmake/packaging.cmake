# Installation and Debian packages (cpack -G DEB in the build tree). One package per component:
#   tipline-common    what both zones run: the two ends of a one-way link (each zone runs one of each), their unit
#                     templates, the hardening every tipline unit shares, the taxonomy, the operations manual
#   tipline-intake    the low side: intaked, its unit, the low side's link instances and example settings
#   tipline-internal  the high side: casemgrd, the migrations, its unit, the high side's link instances and settings
#   tipline-audit     the offline tools: diode-audit and tipkey
# Neither zone's package carries the other zone's daemon. Keys are never made here (docs/operations.md).
set(TIP_UNIT_DIR lib/systemd/system)
set(TIP_SHARE_DIR share/tipline)
set(TIP_ETC_DIR /etc/tipline)
set(TIP_SYSTEMD ${CMAKE_SOURCE_DIR}/deploy/systemd)

install(TARGETS diode-send diode-recv RUNTIME DESTINATION sbin COMPONENT common)
install(TARGETS intaked RUNTIME DESTINATION sbin COMPONENT intake)
install(TARGETS casemgrd RUNTIME DESTINATION sbin COMPONENT internal)
install(TARGETS diode-audit tipkey RUNTIME DESTINATION bin COMPONENT audit)

install(FILES ${TIP_SYSTEMD}/tipline-diode-send@.service ${TIP_SYSTEMD}/tipline-diode-recv@.service
        DESTINATION ${TIP_UNIT_DIR} COMPONENT common)
install(DIRECTORY ${TIP_SYSTEMD}/tipline-.service.d DESTINATION ${TIP_UNIT_DIR} COMPONENT common)
install(FILES ${CMAKE_SOURCE_DIR}/proto/taxonomy/taxonomy.json ${CMAKE_SOURCE_DIR}/proto/taxonomy/regions.json
        ${CMAKE_SOURCE_DIR}/proto/taxonomy/regions.LICENSE DESTINATION ${TIP_SHARE_DIR}/taxonomy COMPONENT common)
install(FILES ${CMAKE_SOURCE_DIR}/docs/operations.md DESTINATION share/doc/tipline-common COMPONENT common)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/internal/sql/ DESTINATION ${TIP_SHARE_DIR}/sql COMPONENT internal
        FILES_MATCHING PATTERN "*.sql")
install(FILES ${CMAKE_SOURCE_DIR}/deploy/pg-roles.sql DESTINATION ${TIP_SHARE_DIR} COMPONENT internal)
install(FILES ${TIP_SYSTEMD}/tipline-audit-verify.service ${TIP_SYSTEMD}/tipline-audit-verify.timer
        DESTINATION ${TIP_UNIT_DIR} COMPONENT internal)

# tip_zone(component account state unit CONFIGS files... LINKS instances... DIRS dirs...): a zone's daemon unit, its
# example settings (conffiles under /etc/tipline), the drop-in giving its link instances the zone's account, and the
# maintainer scripts that make the account, its state directory /var/lib/tipline/<state> and the directories in it
# the daemons expect to exist.
function(tip_zone comp account state unit)
  cmake_parse_arguments(Z "" "" "CONFIGS;LINKS;DIRS" ${ARGN})
  install(FILES ${TIP_SYSTEMD}/${unit} DESTINATION ${TIP_UNIT_DIR} COMPONENT ${comp})
  set(conffiles "")
  foreach(c ${Z_CONFIGS})
    install(FILES ${CMAKE_SOURCE_DIR}/deploy/etc/${c} DESTINATION ${TIP_ETC_DIR} COMPONENT ${comp})
    string(APPEND conffiles "${TIP_ETC_DIR}/${c}\n")
  endforeach()
  set(units ${unit})
  foreach(l ${Z_LINKS})
    install(FILES ${TIP_SYSTEMD}/zone-${state}.conf DESTINATION ${TIP_UNIT_DIR}/${l}.service.d
            RENAME zone.conf COMPONENT ${comp})
    list(APPEND units ${l}.service)
  endforeach()
  set(dir ${CMAKE_BINARY_DIR}/debian/${comp})
  file(WRITE ${dir}/conffiles "${conffiles}")
  set(PKG tipline-${comp})
  set(ACCOUNT ${account})
  set(STATE ${state})
  list(TRANSFORM Z_DIRS PREPEND /var/lib/tipline/${state}/)
  string(REPLACE ";" " " DIRS "${Z_DIRS}")
  string(REPLACE ";" " " UNITS "${units}")
  configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/postinst.in ${dir}/postinst @ONLY)
  configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/prerm.in ${dir}/prerm @ONLY)
  configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/postrm ${dir}/postrm COPYONLY)
  string(TOUPPER ${comp} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA ${dir}/conffiles ${dir}/postinst ${dir}/prerm ${dir}/postrm
      PARENT_SCOPE)
endfunction()

tip_zone(intake tipline-intake intake tipline-intaked.service
         CONFIGS intaked.conf diode-send-report.conf diode-recv-status.conf
         LINKS tipline-diode-send@report tipline-diode-recv@status DIRS tlog status-in)
tip_zone(internal tipline-casemgr internal tipline-casemgrd.service
         CONFIGS casemgrd.conf diode-recv-report.conf diode-send-status.conf
         LINKS tipline-diode-recv@report tipline-diode-send@status DIRS tlog inbox)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tipline)
set(CPACK_PACKAGE_VENDOR tipline)
set(CPACK_PACKAGE_CONTACT "tipline operators <root@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL common intake internal audit)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
foreach(c common intake internal audit)
  string(TOUPPER ${c} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME tipline-${c})
endforeach()
set(CPACK_COMPONENT_INTAKE_DEPENDS common)
set(CPACK_COMPONENT_INTERNAL_DEPENDS common)
set(CPACK_DEBIAN_INTAKE_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_INTERNAL_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_INTAKE_PACKAGE_RECOMMENDS tipline-audit)
set(CPACK_DEBIAN_INTERNAL_PACKAGE_RECOMMENDS "tipline-audit, postgresql-15")
set(CPACK_COMPONENT_COMMON_DESCRIPTION
    "tipline: what both zones run\n The two ends of a one-way link (diode-send, diode-recv), their systemd unit templates, the confinement every tipline unit shares, and the taxonomy.")
set(CPACK_COMPONENT_INTAKE_DESCRIPTION
    "tipline: the internet-facing intake (low side)\n intaked, its systemd unit, the low side's link instances (reports out, status bulletins in) and example settings.")
set(CPACK_COMPONENT_INTERNAL_DESCRIPTION
    "tipline: the internal case manager (high side)\n casemgrd, the schema migrations, its systemd unit, the high side's link instances (reports in, status bulletins out) and example settings.")
set(CPACK_COMPONENT_AUDIT_DESCRIPTION
    "tipline: offline audit and key tools\n diode-audit (checks both sides' transfer logs with public keys only) and tipkey (the key ceremony's tool).")
include(CPack)
