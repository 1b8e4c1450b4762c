#!/usr/bin/env bash
# The alert rules (deploy/prometheus/tipline-alerts.yml) and the operations guide against the code:
#  1. promtool accepts the rules;
#  2. every tipline metric a rule names is registered by a daemon (a rule can never watch a series
#     that does not exist); metrics of other exporters (up, node_*) are not tipline's and not checked;
#  3. every metric a daemon registers is described in docs/operations-guide.md.
set -euo pipefail
src=${TIP_SOURCE_DIR:?}
rules=$src/deploy/prometheus/tipline-alerts.yml
guide=$src/docs/operations-guide.md
fail=0

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: deploy/install-deps installs it (Debian package prometheus)" >&2
  exit 1
fi
promtool check rules "$rules"

# Names registered in the code: the first argument of metric_counter/metric_gauge/metric_histogram
# (or of a daemon's own wrapper named counter), always a string literal.
registered=$(grep -rhoE '(metric_(counter|gauge|histogram)|counter)\(\s*"[a-z_][a-z0-9_]*"' \
  "$src"/common "$src"/intake "$src"/diode "$src"/internal --include='*.c' |
  sed -E 's/.*"([a-z0-9_]+)"/\1/' | sort -u)
# casemgrd's calendar gauge and diode-recv's unchecked counter break the call over two lines.
registered+=$'\n'$(grep -rhoE '^\s*"(intake|diode_send|diode_recv|casemgr)_[a-z0-9_]+",' \
  "$src"/intake "$src"/diode "$src"/internal --include='*.c' | sed -E 's/[^"]*"([a-z0-9_]+)".*/\1/')
registered=$(printf '%s\n' "$registered" | grep -v '^$' | sort -u)
[ -n "$registered" ] || { echo "no registered metrics found in $src" >&2; exit 1; }

for name in $(grep -v '^\s*#' "$rules" | grep -oE '\b(intake|diode_send|diode_recv|casemgr)_[a-z0-9_]+' | sort -u); do
  base=${name%_bucket}; base=${base%_sum}; base=${base%_count}
  if ! grep -qxF "$name" <<<"$registered" && ! grep -qxF "$base" <<<"$registered"; then
    echo "alert rules name $name, which no daemon exports" >&2
    fail=1
  fi
done

for name in $registered; do
  if ! grep -qF "\`$name" "$guide"; then
    echo "$name is exported but not described in docs/operations-guide.md" >&2
    fail=1
  fi
done
exit $fail
