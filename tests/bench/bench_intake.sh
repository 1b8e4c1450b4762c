#!/usr/bin/env bash
# Durable reports per second and latency for 1 KiB reports (proof of work off), driven by wrk, against nginx
# serving a small static file on the same machine in the same run.
# Prints: bench intake: reports_per_s=N p50_ms=N p99_ms=N half_load_per_s=N half_p50_ms=N half_p99_ms=N nginx_per_s=N ratio=X
set -euo pipefail
bin=${TIP_BINARY_DIR:?}
src=${TIP_SOURCE_DIR:?}
duration=${BENCH_SECONDS:-10}
work=$(mktemp -d)
cleanup() {
	local status=$?
	set +e
	for f in "$work"/*.pid; do kill "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
	sleep 0.5
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT

"$bin/tipkey" generate --type sign --name bench-intake --out "$work/intake.key" >/dev/null
"$bin/tipkey" generate --type seal --name bench-seal --out "$work/seal.key" >/dev/null
"$bin/tipkey" generate --type sign --name bench-internal --out "$work/status.key" >/dev/null
port=$((20000 + RANDOM % 20000))
cat >"$work/intaked.conf" <<CONF
origin bench
listen 127.0.0.1
port $port
plain_http yes
metrics_port 0
pow_bits 0
signing_key $work/intake.key
seal_key $work/seal.key.pub
status_key $work/status.key.pub
outbox $work/outbox
status_spool $work/status
taxonomy $src/proto/taxonomy
rate_reports 1000000000
burst_reports 1000000
max_pending 100000
max_connections_per_address 100000
CONF
"$bin/intaked" -c "$work/intaked.conf" >"$work/intaked.log" 2>&1 &
echo $! >"$work/intaked.pid"
for _ in $(seq 100); do
	grep -q "listening on" "$work/intaked.log" && break
	kill -0 "$(cat "$work/intaked.pid")" 2>/dev/null || { cat "$work/intaked.log"; exit 1; }
	sleep 0.1
done

# A report of about 1 KiB: the narrative fills it up.
narrative=$(printf '某村砂场夜间非法采砂，运砂车辆每晚十点后进出。%.0s' $(seq 12))
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"taxonomy_version":"2026.1","reporter":{"anonymous":true},"activity":{"categories":["illegal_mining_sand_dredging"],"sector":"natural_resources","region":"110101","place":"河道","time":"每晚","narrative":"$narrative"}}'
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
function delay() return pause end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
echo "body bytes: $(grep -o "wrk.body = '.*'" "$work/post.lua" | wc -c)"

run_wrk() { # connections, url, extra...
	local c=$1 url=$2
	shift 2
	wrk -t1 -c"$c" -d"${duration}s" -s "$work/post.lua" "$@" "$url" | grep '^RESULT'
}
read -r _ n p50 p99 rate errors < <(run_wrk 64 "http://127.0.0.1:$port/api/v1/reports")
[ "$errors" -eq 0 ] || { echo "intake: $errors errors"; exit 1; }

# Half the load, paced: 64 connections, each waiting between its requests so that together they offer
# rate/2. A short first run measures how much the round trip adds to the wait, and the second corrects for it.
half=$(awk -v r="$rate" 'BEGIN { printf "%d", r / 2 }')
delay=$(awk -v h="$half" 'BEGIN { printf "%d", 64 * 1000 / h }')
read -r _ _ _ _ probe _ < <(duration=3 WRK_DELAY_MS=$delay run_wrk 64 "http://127.0.0.1:$port/api/v1/reports")
delay=$(awk -v h="$half" -v d="$delay" -v p="$probe" 'BEGIN { t = 64000 / h - (64000 / p - d); printf "%d", t < 0 ? 0 : t }')
read -r _ hn hp50 hp99 hrate herrors < <(WRK_DELAY_MS=$delay run_wrk 64 "http://127.0.0.1:$port/api/v1/reports")
kill "$(cat "$work/intaked.pid")"
wait "$(cat "$work/intaked.pid")" 2>/dev/null || true
rm -f "$work/intaked.pid"

# nginx with a small static file, same machine, same wrk settings.
mkdir -p "$work/www" "$work/nginx"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
nport=$((port + 1))
cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nport; root $work/www; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3
grep -v '^wrk\.' "$work/post.lua" >"$work/get.lua"
cp "$work/get.lua" "$work/post.lua"
read -r _ nn np50 np99 nrate nerrors < <(run_wrk 64 "http://127.0.0.1:$nport/index.html")
kill "$(cat "$work/nginx.pid")" 2>/dev/null || true

ratio=$(awk -v a="$rate" -v b="$nrate" 'BEGIN { printf "%.3f", a / b }')
printf 'bench intake: reports_per_s=%.0f p50_ms=%s p99_ms=%s half_load_per_s=%.0f half_p50_ms=%s half_p99_ms=%s nginx_per_s=%.0f ratio=%s\n' \
	"$rate" "$p50" "$p99" "$hrate" "$hp50" "$hp99" "$nrate" "$ratio"
