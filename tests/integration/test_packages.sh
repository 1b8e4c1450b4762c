#!/usr/bin/env bash
# The Debian packages of the tree under test: builds them with cpack, checks what each carries (neither zone's package
# holds the other zone's daemon), installs them, makes keys with the installed tipkey into a temporary directory per
# zone, checks every example configuration with its daemon's -n as the zone's account, verifies the installed units
# (systemd-analyze verify, and the exposure systemd-analyze security reports), runs the daemons as their accounts
# under strace while a report posted to intaked crosses the report link, checks every system call, socket family
# and mapping against the units' filters, then purges the packages. Root and dpkg only; on a machine where anything tipline is installed it skips, and it removes
# exactly what it added (packages, accounts, directories), also when it fails.
set -euo pipefail
bin=${TIP_BINARY_DIR:?}
skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i, system accounts)"
for t in dpkg dpkg-deb cpack systemd-analyze strace setpriv openssl curl pkill userdel groupdel; do
	command -v "$t" >/dev/null || skip "needs $t"
done
pkgs=(tipline-audit tipline-common tipline-intake tipline-internal)
accounts=(tipline-intake tipline-casemgr)
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ] ||
		skip "$p is installed here; the test would replace it"
done
for d in /etc/tipline /var/lib/tipline; do [ ! -e "$d" ] || skip "$d exists; the test would change it"; done
for a in "${accounts[@]}"; do ! id "$a" >/dev/null 2>&1 || skip "account $a exists"; done

work=$(mktemp -d)
chmod 0711 "$work"
installed=0
traced=1
pids=()
stop_daemons() { # SIGTERM to each daemon (traced, the child of its strace); 1 unless all stopped cleanly
	local p rc=0
	for p in "${pids[@]}"; do
		if [ "$traced" -eq 1 ]; then pkill -TERM -P "$p"; else kill -TERM "$p"; fi
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	pids=()
	return $rc
}
cleanup() {
	local status=$?
	set +e
	stop_daemons 2>/dev/null
	if [ "$installed" -eq 1 ]; then
		dpkg --purge "${pkgs[@]}" >"$work/purge.log" 2>&1 || cat "$work/purge.log" >&2
		for a in "${accounts[@]}"; do
			userdel "$a" 2>/dev/null
			groupdel "$a" 2>/dev/null
		done
		rm -rf /etc/tipline /var/lib/tipline
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Build.
cpack -G DEB --config "$bin/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
	{ cat "$work/cpack.log" >&2; fail "cpack"; }
deb() { ls "$work/pkg/$1"_*.deb; }
for p in "${pkgs[@]}"; do dpkg-deb -c "$(deb "$p")" | awk '{print $6}' >"$work/pkg/$p.files"; done
has() { grep -qx "./$2" "$work/pkg/$1.files"; }
for f in usr/sbin/intaked usr/lib/systemd/system/tipline-intaked.service etc/tipline/intaked.conf \
	etc/tipline/diode-send-report.conf etc/tipline/diode-recv-status.conf; do
	has tipline-intake "$f" || fail "tipline-intake lacks $f"
done
for f in usr/sbin/casemgrd usr/share/tipline/sql/0001_core.sql usr/share/tipline/pg-roles.sql \
	etc/tipline/casemgrd.conf etc/tipline/diode-recv-report.conf etc/tipline/diode-send-status.conf; do
	has tipline-internal "$f" || fail "tipline-internal lacks $f"
done
for f in usr/sbin/diode-send usr/sbin/diode-recv usr/share/tipline/taxonomy/taxonomy.json \
	usr/lib/systemd/system/tipline-.service.d/hardening.conf; do
	has tipline-common "$f" || fail "tipline-common lacks $f"
done
has tipline-audit usr/bin/tipkey && has tipline-audit usr/bin/diode-audit || fail "tipline-audit lacks its tools"
! has tipline-intake usr/sbin/casemgrd || fail "the intake package carries casemgrd"
! has tipline-internal usr/sbin/intaked || fail "the internal package carries intaked"
for p in tipline-common tipline-audit; do
	! has $p usr/sbin/intaked && ! has $p usr/sbin/casemgrd || fail "$p carries a zone's daemon"
done
for p in tipline-intake tipline-internal; do
	dpkg-deb -f "$(deb $p)" Depends | grep -q "tipline-common (= " || fail "$p does not depend on tipline-common"
done

# Install: every Depends must already be met (nothing is fetched here).
installed=1
dpkg -i "$work"/pkg/*.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
[ "$(stat -c '%U %a' /var/lib/tipline/intake)" = "tipline-intake 700" ] || fail "/var/lib/tipline/intake"
[ "$(stat -c '%U %a' /var/lib/tipline/internal)" = "tipline-casemgr 700" ] || fail "/var/lib/tipline/internal"
for p in tipline-intake tipline-internal; do
	dpkg-query -W -f='${Conffiles}\n' $p | grep -q /etc/tipline/ || fail "$p has no conffiles"
done

# The key ceremony in miniature: every key made once, then each zone's directory (root:<account> 0750) gets the
# files that zone holds: private keys <account> 0600 (a private key file with group or other bits is refused),
# public keys and certificates root 0644, as docs/operations.md says.
gen=$work/gen
mkdir -m 0700 "$gen"
key() { /usr/bin/tipkey generate --type "$1" --name "$2" --out "$gen/$2.key" >/dev/null; }
key sign intake-a
key seal internal-seal
key sign internal
key index internal-index
key link link-report
key link link-status
key sign report-log
key sign status-log
key cosign report-recv-cosign
key sign report-recv-events
key cosign status-recv-cosign
key sign status-recv-events
for t in intake staff; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
		-keyout "$gen/$t-tls.key" -out "$gen/$t-tls.crt" 2>/dev/null
done
zone_keys() { # account dir files...: each file of $gen, by name or as subdirectory/name
	local account=$1 dir=$2 f
	shift 2
	install -d -m 0750 -g "$account" "$dir"
	for f in "$@"; do
		[ -d "$dir/$(dirname "$f")" ] || install -d -m 0750 -g "$account" "$dir/$(dirname "$f")"
		case $f in
		*.pub | *.crt) install -m 0644 "$gen/$(basename "$f")" "$dir/$f" ;;
		*) install -m 0600 -o "$account" -g "$account" "$gen/$(basename "$f")" "$dir/$f" ;;
		esac
	done
}
ik=$work/intake-keys
hk=$work/internal-keys
zone_keys tipline-intake "$ik" intake-a.key report-log.key link-report.key link-status.key status-recv-cosign.key \
	status-recv-events.key intake-tls.key internal-seal.key.pub internal.key.pub intake-tls.crt \
	status-origins/internal.key.pub status-origins/status-log.key.pub
zone_keys tipline-casemgr "$hk" internal-seal.key internal.key internal-index.key status-log.key link-report.key \
	link-status.key report-recv-cosign.key report-recv-events.key staff-tls.key internal.key.pub staff-tls.crt \
	report-origins/intake-a.key.pub report-origins/report-log.key.pub

# Each installed example configuration, with only its key directory moved, passes its daemon's check as the account
# its unit runs it as.
mkdir "$work/conf"
as() { # account command...: as the unit runs it (that account, its group, no other groups)
	local a=$1
	shift
	setpriv --reuid="$a" --regid="$a" --clear-groups "$@"
}
check() { # account program config
	sed "s|/etc/tipline/keys|$4|" "/etc/tipline/$3.conf" >"$work/conf/$3.conf"
	as "$1" "/usr/sbin/$2" -c "$work/conf/$3.conf" -n >"$work/conf/$3.out" 2>&1 ||
		{ cat "$work/conf/$3.out" >&2; fail "$2 -n rejects the example $3.conf"; }
}
check tipline-intake intaked intaked "$ik"
check tipline-intake diode-send diode-send-report "$ik"
check tipline-intake diode-recv diode-recv-status "$ik"
check tipline-casemgr casemgrd casemgrd "$hk"
check tipline-casemgr diode-recv diode-recv-report "$hk"
check tipline-casemgr diode-send diode-send-status "$hk"

# The installed units: well formed, programs in place, and under the shared confinement (without it the exposure
# systemd-analyze reports is about 9 of 10).
units=(tipline-intaked.service tipline-casemgrd.service tipline-diode-send@report.service
	tipline-diode-recv@status.service tipline-diode-recv@report.service tipline-diode-send@status.service
	tipline-audit-verify.service)
(cd /usr/lib/systemd/system && systemd-analyze verify "${units[@]}" tipline-audit-verify.timer) >"$work/verify.log" 2>&1 ||
	{ cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log" >&2; fail "systemd-analyze verify warns"; }
for u in "${units[@]}"; do
	(cd /usr/lib/systemd/system && systemd-analyze security --offline=yes --threshold=20 "$u") >"$work/security.log" 2>&1 ||
		{ grep -E "✗|Overall" "$work/security.log" >&2; fail "$u: exposure above 2.0"; }
	grep "Overall exposure" "$work/security.log"
	grep -q "✓ SystemCallFilter=~@privileged" "$work/security.log" ||
		fail "$u: the system call filter is not applied"
done

# The daemons as the units run them, traced: every system call must pass
#   SystemCallFilter=@system-service, then ~@privileged @resources, then the single calls allowed again,
# every socket must be of a family RestrictAddressFamilies allows, and no mapping may be writable and executable
# (MemoryDenyWriteExecute). Sanitizer builds make calls of their own, and LeakSanitizer does not run under ptrace:
# there the daemons run untraced and only the report's crossing and their clean exits are checked.
traced=1
case $(ldd /usr/sbin/intaked) in *libasan* | *libubsan*) traced=0 ;; esac
declare -A group
cur=
while IFS= read -r line; do
	case $line in
	@*) cur=$line ;;
	"    #"* | "") ;;
	"    "*) [ -z "$cur" ] || group[$cur]+=" ${line# *}" ;;
	*) cur= ;;
	esac
done < <(systemd-analyze syscall-filter)
expand() {
	local m
	for m in ${group[$1]}; do
		case $m in @*) expand "$m" ;; *) echo "$m" ;; esac
	done
}
# The groups, and the single calls the hardening drop-in allows besides them (seccomp: the daemons' own filters).
{
	expand @system-service
	sed -n 's/^SystemCallFilter=\([a-z_][a-z0-9_ ]*\)$/\1/p' /usr/lib/systemd/system/tipline-.service.d/hardening.conf | tr ' ' '\n'
} | sort -u >"$work/allowed"
{ expand @privileged; expand @resources; } | sort -u >"$work/denied"
[ "$(wc -l <"$work/allowed")" -gt 100 ] || fail "cannot read systemd's system call groups"

# They run in the state directories the packages made, on ports of their choosing, with the database unreachable
# (and intaked without its proof of work, so that the test can post a report).
for z in intake internal; do install -d -m 0700 -o "tipline-${z/internal/casemgr}" "$work/trace-$z"; done
run_conf() { # name keys [sed expressions...]
	local name=$1 keys=$2
	shift 2
	sed -e "s|/etc/tipline/keys|$keys|" \
		-e 's/^port .*/port 0/' -e 's/^listen .*/listen 127.0.0.1/' -e 's/^metrics_port .*/metrics_port 0/' \
		-e 's/^destination .*/destination 127.0.0.1/' -e 's/host=127.0.0.1/host=127.0.0.1 port=1/' "$@" \
		"/etc/tipline/$name.conf" >"$work/conf/run-$name.conf"
}
start() { # account zone program config pattern: starts it traced, waits for pattern in its log
	local a=$1 zone=$2 prog=$3 conf=$4 pattern=$5
	local trace=()
	[ "$traced" -eq 0 ] || trace=(strace -f -qq -o "$work/trace-$zone/$prog-$conf")
	setpriv --reuid="$a" --regid="$a" --clear-groups "${trace[@]}" "/usr/sbin/$prog" -c "$work/conf/run-$conf.conf" \
		>"$work/$conf.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 600); do
		grep -qs "$pattern" "$work/$conf.log" && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/$conf.log" >&2
	fail "$prog ($conf) did not start"
}
port_of() { grep -m1 -oE 'listening on [^ ]*:[0-9]+' "$work/$1.log" | sed 's/.*://'; }

run_conf intaked "$ik" -e '$a pow_bits 0'
start tipline-intake intake intaked intaked "listening on"
p=$(port_of intaked)
curl -sfk -o /dev/null "https://127.0.0.1:$p/" || fail "intaked's public page"
curl -sfk -o /dev/null "https://127.0.0.1:$p/api/v1/form" || fail "intaked's form"
run_conf casemgrd "$hk"
start tipline-casemgr internal casemgrd casemgrd "listening on"
curl -sk -o /dev/null "https://127.0.0.1:$(port_of casemgrd)/" || fail "casemgrd's staff page"
run_conf diode-recv-report "$hk"
start tipline-casemgr internal diode-recv diode-recv-report "listening on"
run_conf diode-send-report "$ik" -e "s/^port .*/port $(port_of diode-recv-report)/"
start tipline-intake intake diode-send diode-send-report "sender started"
# A report through the installed programs: accepted by intaked, carried by the link, delivered into the inbox.
curl -sfk -o /dev/null -H 'Content-Type: application/json' --data-binary \
	'{"taxonomy_version":"2026.1","reporter":{"anonymous":true},"activity":{"categories":["illegal_mining_sand_dredging"],"sector":"natural_resources","region":"110101","place":"河道","time":"每晚","narrative":"夜间非法采砂"}}' \
	"https://127.0.0.1:$p/api/v1/reports" || fail "intaked refused the report"
for _ in $(seq 600); do
	[ -z "$(find /var/lib/tipline/internal/inbox/intake-a -name '*.seg' -size +100c 2>/dev/null)" ] || break
	sleep 0.1
done
[ -n "$(find /var/lib/tipline/internal/inbox/intake-a -name '*.seg' -size +100c 2>/dev/null)" ] ||
	fail "the report did not reach the receiver's inbox"
stop_daemons || { tail -n 5 "$work"/*.log >&2; fail "a daemon did not stop cleanly on SIGTERM"; }
if [ "$traced" -eq 0 ]; then
	echo "packages: built, installed, configurations checked, units verified, a report carried (filters not checked)"
	exit 0
fi

bad=0
for t in "$work"/trace-*/*; do
	name=$(basename "$t")
	sed -E 's/^[0-9]+ +//' "$t" | grep -vE '^(<\.\.\.|---|\+\+\+)' | sed -E 's/\(.*//' | sort -u >"$t.calls"
	[ "$(wc -l <"$t.calls")" -gt 20 ] || fail "$name: the trace holds almost nothing"
	for c in $(comm -23 "$t.calls" "$work/allowed") $(comm -12 "$t.calls" "$work/denied"); do
		echo "$name: $c is refused by the unit's system call filter" >&2
		bad=1
	done
	for f in $(grep -oE '^[0-9]+ +socket\(AF_[A-Z0-9]+' "$t" | sed 's/.*(//' | sort -u); do
		case $f in AF_UNIX | AF_INET | AF_INET6) ;; *) echo "$name: socket family $f is refused" >&2 && bad=1 ;; esac
	done
	if grep -qE '^[0-9]+ +(mmap|mprotect|pkey_mprotect)\(.*PROT_WRITE\|PROT_EXEC' "$t"; then
		echo "$name: a writable and executable mapping" >&2
		bad=1
	fi
done
[ "$bad" -eq 0 ] || fail "the daemons need more than their units allow"
echo "packages: built, installed, configurations checked, units verified, daemons within their filters"
