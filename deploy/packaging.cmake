# The Debian package: `cmake --build --preset release --target package` makes
# opale-bot_<version>_amd64.deb (CPack DEB) in the build directory; tests/package/run.sh checks
# it and installs it into a throw-away root. Paths are those deploy/opale-bot.service and
# deploy/config.example.yaml (installed as the config) expect.
set(OPALEBOT_DEB_MAINTAINER
    "opale-bot maintainers <maintainers@users.noreply.r-seed-92a3d208.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# Relative destinations go under the packaging prefix, /usr; /etc and /lib are absolute.
install(TARGETS opale-bot RUNTIME DESTINATION bin)
install(DIRECTORY knowledge/content/ DESTINATION share/opale-bot/knowledge)
install(FILES README.md DESTINATION share/doc/opale-bot)
# Debian wants a changelog in every package; the history itself is git's.
string(TIMESTAMP deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC) # or SOURCE_DATE_EPOCH
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog CONTENT "\
opale-bot (${PROJECT_VERSION}) bookworm; urgency=medium

  * Built by CPack from the opale-bot repository: see its git history.

 -- @OPALEBOT_DEB_MAINTAINER@  ${deb_date}
")
file(ARCHIVE_CREATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog.gz
     PATHS ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog FORMAT raw
     COMPRESSION GZip COMPRESSION_LEVEL 9)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog.gz DESTINATION share/doc/opale-bot)
# secrets.env is 0600 on purpose: it holds the bot's password and keys.
install(FILES deploy/debian/lintian-overrides DESTINATION share/lintian/overrides
        RENAME opale-bot)
install(FILES deploy/debian/opale-bot.sysusers DESTINATION lib/sysusers.d RENAME opale-bot.conf)
install(FILES deploy/debian/opale-bot.tmpfiles DESTINATION lib/tmpfiles.d RENAME opale-bot.conf)
install(FILES deploy/opale-bot.service DESTINATION /lib/systemd/system)
install(FILES deploy/config.example.yaml DESTINATION /etc/opale-bot RENAME config.yaml)
install(FILES deploy/secrets.env DESTINATION /etc/opale-bot PERMISSIONS OWNER_READ OWNER_WRITE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME opale-bot)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # opale-bot_<version>_amd64.deb
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON) # the release preset's -g stays in the build tree
set(OPALEBOT_DEB_COMPRESSION xz CACHE STRING
    "Compression of the .deb: xz, or zstd for a test package of a sanitizer build (160 MB)")
set(CPACK_DEBIAN_COMPRESSION_TYPE ${OPALEBOT_DEB_COMPRESSION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${OPALEBOT_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Matrix (Tchap) help bot for op@le finance staff")
set(CPACK_PACKAGE_DESCRIPTION "\
opale-bot answers French questions of EPLE finance staff from a knowledge\n\
base of sourced step-by-step guides, creates support tickets (built-in\n\
register or iTop), reports the migration status of a school and sends\n\
reminders, in end-to-end encrypted Tchap salons.")
# The libraries' packages come from dpkg-shlibdeps; these are what the binary needs besides:
# tzdata for date-tz (system time zones), CA certificates for HTTPS, systemd-sysusers in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, ca-certificates, systemd | systemd-sysusers")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/prerm ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON) # scripts 0755, conffiles 0644
include(CPack)
