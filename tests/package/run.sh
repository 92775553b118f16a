#!/usr/bin/env bash
# The Debian package, end to end without a container nor network: builds the `package` target in
# BUILD_DIR, checks the .deb's name, files, modes, conffiles and Depends, installs it into a
# throw-away root (dpkg --root; maintainer scripts run chrootless with DPKG_ROOT, as Debian's
# DPKG_ROOT bootstrap does), runs the installed binary on this system's libraries, verifies the
# installed unit, upgrades over an edited config, then purges and checks what is left.
# Usage: tests/package/run.sh BUILD_DIR (a configured tree: release, or asan in tests/run-all.sh).
set -euo pipefail
build=$(cd "${1:?usage: tests/package/run.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL (paquet) : $*" >&2
  exit 1
}
step() { echo "== paquet : $*"; }

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build/CMakeCache.txt"
deb="$build/opale-bot_${version}_amd64.deb"

step "cmake --build $build --target package"
rm -f "$deb"
cmake --build "$build" --target package > "$work/cpack.log" || {
  cat "$work/cpack.log"
  fail "the package target"
}
[ -f "$deb" ] || fail "no $(basename "$deb") in $build: $(ls "$build"/*.deb 2> /dev/null)"
echo "$(basename "$deb") : $(stat -c %s "$deb") octets"

step "control fields and conffiles"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = opale-bot ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
# Each library from dpkg-shlibdeps, and what the binary needs besides its libraries.
field Depends | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' > "$work/depends"
for p in libc6 libstdc++6 libcurl3-gnutls libolm3 libsqlite3-0 libspdlog1.10-fmt9 libyaml-cpp0.7 \
  libcmark0.30.2 libstemmer0d libnettle8 libdate-tz3 tzdata ca-certificates systemd; do
  grep -qxF "$p" "$work/depends" || fail "Depends lacks $p: $(field Depends)"
done
dpkg-deb -I "$deb" conffiles > "$work/conffiles"
printf '/etc/opale-bot/config.yaml\n/etc/opale-bot/secrets.env\n' | diff - "$work/conffiles" ||
  fail "conffiles"
dpkg-deb -I "$deb" > "$work/info"
for script in postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script " "$work/info" ||
    fail "no executable $script: $(cat "$work/info")"
done

step "files and modes (dpkg-deb -c)"
dpkg-deb -c "$deb" > "$work/contents"
expect() { # MODE PATH
  grep -qE "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \./$2( |$)" "$work/contents" ||
    fail "expected $1 root/root ./$2 in: $(grep -F "$2" "$work/contents" || echo '(absent)')"
}
expect -rwxr-xr-x usr/bin/opale-bot
expect -rw-r--r-- lib/systemd/system/opale-bot.service
expect -rw-r--r-- etc/opale-bot/config.yaml
expect -rw------- etc/opale-bot/secrets.env
expect -rw-r--r-- usr/lib/sysusers.d/opale-bot.conf
expect -rw-r--r-- usr/lib/tmpfiles.d/opale-bot.conf
expect -rw-r--r-- usr/share/doc/opale-bot/README.md
expect -rw-r--r-- usr/share/opale-bot/knowledge/glossaire.yaml
expect -rw-r--r-- usr/share/opale-bot/knowledge/synonymes.yaml
fiches=$(find "$top/knowledge/content" -maxdepth 1 -name '*.md' | wc -l)
packed=$(grep -cE '\./usr/share/opale-bot/knowledge/[^/]+\.md$' "$work/contents" || true)
[ "$packed" -eq "$fiches" ] || fail "$packed fiches in the package, $fiches in knowledge/content"
if grep -vE '^(d|-)[rwx-]{9} root/root ' "$work/contents"; then
  fail "entries above are not plain files or directories owned by root"
fi
grep -E '^d' "$work/contents" | grep -v '^drwxr-xr-x' && fail "directories not 0755"

# A throw-away root: dpkg's database, nothing else. --force-script-chrootless runs the
# maintainer scripts on this system with DPKG_ROOT set (the root has no shell to chroot into);
# --force-depends: the root has none of the Depends, this system's libraries serve below.
# Not root (a developer's run-all.sh): fakeroot fakes the ownership dpkg and tmpfiles set.
root="$work/root"
export PATH="$PATH:/usr/sbin:/sbin" # dpkg wants ldconfig and start-stop-daemon on the PATH
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
as_root=()
dpkg_opts=(--root="$root" --force-script-chrootless --force-depends)
if [ "$(id -u)" -ne 0 ]; then
  command -v fakeroot > /dev/null || fail "not root and no fakeroot (deploy/debian-packages.txt)"
  touch "$work/fakeroot.state" # one faked ownership table across the calls below
  as_root=(fakeroot -i "$work/fakeroot.state" -s "$work/fakeroot.state")
  dpkg_opts+=(--force-not-root)
fi
in_root() { "${as_root[@]}" "$@"; }
dpkg_root() { in_root dpkg "${dpkg_opts[@]}" "$@"; }
status() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' opale-bot 2> /dev/null || true; }

step "dpkg --root … -i (throw-away root $root)"
dpkg_root -i "$deb" > "$work/install.log" 2>&1 || {
  cat "$work/install.log"
  fail "dpkg -i"
}
[ "$(status)" = "install ok installed" ] || fail "status after install: $(status)"
grep -q "systemctl start opale-bot" "$work/install.log" || fail "postinst did not tell what to do"

step "system user, state directory, enabled unit"
user_line=$(grep '^opale-bot:' "$root/etc/passwd") || fail "no opale-bot user in the root's passwd"
IFS=: read -r _ _ uid gid _ home shell <<< "$user_line"
{ [ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] && [ "$home" = /var/lib/opale-bot ]; } ||
  fail "not a system user: $user_line"
grep -q "^opale-bot:x:$gid:" "$root/etc/group" || fail "no opale-bot group $gid"
[ "$(readlink "$root/var/lib/opale-bot")" = private/opale-bot ] ||
  fail "/var/lib/opale-bot is not the DynamicUser link: $(ls -ld "$root/var/lib/opale-bot")"
owner() { in_root stat -c '%a %u:%g' "$1"; }
[ "$(owner "$root/var/lib/private/opale-bot")" = "700 $uid:$gid" ] ||
  fail "state directory: $(owner "$root/var/lib/private/opale-bot")"
[ "$(owner "$root/var/lib/private")" = "700 0:0" ] || fail "/var/lib/private: $(owner "$root/var/lib/private")"
[ "$(owner "$root/etc/opale-bot/secrets.env")" = "600 0:0" ] ||
  fail "secrets.env: $(owner "$root/etc/opale-bot/secrets.env")"
[ "$(readlink "$root/etc/systemd/system/multi-user.target.wants/opale-bot.service")" = \
  /lib/systemd/system/opale-bot.service ] || fail "unit not enabled"

step "the installed binary on this system's libraries"
bin="$root/usr/bin/opale-bot"
kb="$root/usr/share/opale-bot/knowledge"
if ldd "$bin" | grep "not found"; then fail "libraries above are missing"; fi
[ "$("$bin" --version)" = "opale-bot $version" ] || fail "--version: $("$bin" --version)"
readelf -S "$bin" > "$work/sections"
grep -q '\.debug_info' "$work/sections" && fail "the packaged binary is not stripped"
"$bin" kb check "$kb" > "$work/kb-check.txt" || {
  cat "$work/kb-check.txt"
  fail "kb check on the installed base"
}
"$bin" ask --kb "$kb" --json "Comment créer le tiers DDFIP ?" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["answer"] == "tiers-ddfip", d' ||
  fail "ask on the installed base"
# The shipped config, paths moved into the root: what ExecStartPre checks. Without a secret it
# must be refused (why postinst does not start the bot); with the password of secrets.env, valid.
sed -e "s|\"/usr/share/opale-bot/knowledge\"|\"$kb\"|" \
  -e "s|\"/var/lib/opale-bot/state.db\"|\"$root/var/lib/opale-bot/state.db\"|" \
  "$root/etc/opale-bot/config.yaml" > "$work/config.yaml"
{ grep -q "$kb" "$work/config.yaml" && grep -q "$root/var/lib" "$work/config.yaml"; } ||
  fail "the installed config no longer names the packaged paths"
if env -u OPALEBOT_PASSWORD -u OPALEBOT_ACCESS_TOKEN "$bin" config check "$work/config.yaml" \
  > "$work/check.txt"; then
  fail "the shipped config passed config check without a password"
fi
grep -q "account.password" "$work/check.txt" || fail "config check: $(cat "$work/check.txt")"
OPALEBOT_PASSWORD=essai "$bin" config check "$work/config.yaml" > "$work/check.txt" || {
  cat "$work/check.txt"
  fail "the shipped config with a password"
}

step "systemd-analyze verify on the installed unit"
# verify needs the unit's executables at their paths: a copy of the unit whose two commands
# point into the root (every other line as installed); any message is a failure.
if command -v systemd-analyze > /dev/null; then
  mkdir "$work/unit"
  sed "s|/usr/bin/opale-bot |$bin |" "$root/lib/systemd/system/opale-bot.service" \
    > "$work/unit/opale-bot.service"
  [ "$(grep -c "^ExecStart.*=$bin " "$work/unit/opale-bot.service")" -eq 2 ] ||
    fail "the unit's commands changed: update the substitution"
  systemd-analyze verify "$work/unit/opale-bot.service" > "$work/verify.txt" 2>&1 || true
  if [ -s "$work/verify.txt" ]; then
    cat "$work/verify.txt"
    fail "systemd-analyze verify"
  fi
else
  echo "systemd-analyze absent (paquet systemd) : unité non vérifiée"
fi

step "upgrade over an edited config"
printf '# modifié à la main\n' >> "$root/etc/opale-bot/config.yaml"
echo "OPALEBOT_PASSWORD=essai" >> "$root/etc/opale-bot/secrets.env"
dpkg_root --force-confold -i "$deb" > "$work/upgrade.log" 2>&1 || {
  cat "$work/upgrade.log"
  fail "dpkg -i over an installed package"
}
grep -q "modifié à la main" "$root/etc/opale-bot/config.yaml" || fail "config lost"
grep -q "^OPALEBOT_PASSWORD=essai" "$root/etc/opale-bot/secrets.env" || fail "secrets lost"
[ "$(owner "$root/etc/opale-bot/secrets.env")" = "600 0:0" ] || fail "secrets.env mode after upgrade"
grep -q "systemctl start" "$work/upgrade.log" && fail "the first-install message on an upgrade"
[ "$(grep -c '^opale-bot:' "$root/etc/passwd")" -eq 1 ] || fail "user made twice"

step "dpkg --root … --purge"
dpkg_root --purge opale-bot > "$work/purge.log" 2>&1 || {
  cat "$work/purge.log"
  fail "dpkg --purge"
}
[ -z "$(status)" ] || [ "$(status)" = "unknown ok not-installed" ] || fail "status after purge: $(status)"
for gone in etc/opale-bot usr/bin/opale-bot usr/share/opale-bot lib/systemd/system/opale-bot.service \
  var/lib/opale-bot var/lib/private/opale-bot \
  etc/systemd/system/multi-user.target.wants/opale-bot.service; do
  if [ -e "$root/$gone" ] || [ -L "$root/$gone" ]; then fail "/$gone left after purge"; fi
done
# Only the system user stays (Debian never deletes one: files elsewhere may still be its own).
left=$(cd "$root" && find . -path ./var/lib/dpkg -prune -o ! -type d -print | sort | tr '\n' ' ')
[ "$left" = "./etc/.pwd.lock ./etc/group ./etc/gshadow ./etc/passwd ./etc/shadow " ] ||
  fail "left after purge: $left"
grep -q '^opale-bot:' "$root/etc/passwd" || fail "the user went with the purge"
echo "paquet : correct ($(basename "$deb"), $(stat -c %s "$deb") octets)"
