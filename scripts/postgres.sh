# Sourced by scripts/test.sh: starts a throwaway PostgreSQL cluster for the store tests and exports
# PIXELFORGE_TEST_POSTGRES_URL. Outside CI, no PostgreSQL binaries simply means the PG tests skip.
start_test_postgres() {
  if [ -n "${PIXELFORGE_TEST_POSTGRES_URL:-}" ]; then return 0; fi
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bindir" ]; then
    if [ "${CI:-}" = "true" ]; then echo "CI needs PostgreSQL (apt-get install postgresql)" >&2; return 1; fi
    echo "PostgreSQL not found: PostgreSQL store tests will be skipped" >&2; return 0
  fi
  local pgdir port=55432 run=()
  pgdir=$(mktemp -d /tmp/pixelforge-pg.XXXXXX)
  if [ "$(id -u)" = "0" ]; then chown postgres "$pgdir"; run=(runuser -u postgres --); fi
  "${run[@]}" "$bindir/initdb" -D "$pgdir/data" -U pixelforge --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" -l "$pgdir/log" -w start >/dev/null
  "${run[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U pixelforge pixelforge_test
  export PIXELFORGE_TEST_POSTGRES_URL="postgresql+psycopg://pixelforge@127.0.0.1:$port/pixelforge_test"
  trap "'${run[@]}' '$bindir/pg_ctl' -D '$pgdir/data' -m fast stop >/dev/null 2>&1 || true; rm -rf '$pgdir'" EXIT
}
