# Sourced by scripts/test.sh: starts a throwaway PostgreSQL cluster for the store tests and exports
# PIXELFORGE_TEST_POSTGRES_URL. Outside CI, no PostgreSQL binaries simply means the PG tests skip;
# with CI=true a missing or broken PostgreSQL is an error.
#
# The cluster listens on a Unix socket in its own temporary directory only (no TCP port), so several
# test runs on one machine never collide. PostgreSQL refuses to run as root, so as root (CI on a
# fresh Debian machine) every server command runs as the `postgres` user the Debian package creates.

_PIXELFORGE_PG_DIR=""
_PIXELFORGE_PG_BIN=""
_PIXELFORGE_PG_AS=()

_pixelforge_pg_fail() {
  echo "postgres.sh: $*" >&2
  if [ "${CI:-}" = "true" ]; then return 1; fi
  echo "postgres.sh: PostgreSQL store tests will be skipped" >&2
  return 0
}

stop_test_postgres() {
  if [ -n "$_PIXELFORGE_PG_DIR" ] && [ -d "$_PIXELFORGE_PG_DIR" ]; then
    "${_PIXELFORGE_PG_AS[@]}" "$_PIXELFORGE_PG_BIN/pg_ctl" -D "$_PIXELFORGE_PG_DIR/data" -m immediate stop \
      >/dev/null 2>&1 || true
    rm -rf "$_PIXELFORGE_PG_DIR"
  fi
  _PIXELFORGE_PG_DIR=""
}

start_test_postgres() {
  if [ -n "${PIXELFORGE_TEST_POSTGRES_URL:-}" ]; then return 0; fi
  _PIXELFORGE_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$_PIXELFORGE_PG_BIN" ] || [ ! -x "$_PIXELFORGE_PG_BIN/initdb" ]; then
    _pixelforge_pg_fail "PostgreSQL server binaries not found (apt-get install postgresql)"
    return
  fi
  _PIXELFORGE_PG_AS=()
  if [ "$(id -u)" = "0" ]; then
    if ! id postgres >/dev/null 2>&1; then
      _pixelforge_pg_fail "running as root but there is no 'postgres' user to run the server as"
      return
    fi
    _PIXELFORGE_PG_AS=(runuser -u postgres --)
  fi
  # /tmp, not $TMPDIR: the postgres user must be able to reach the directory.
  _PIXELFORGE_PG_DIR=$(mktemp -d /tmp/pixelforge-pg.XXXXXX)
  chmod 0755 "$_PIXELFORGE_PG_DIR"
  if [ "$(id -u)" = "0" ]; then chown postgres "$_PIXELFORGE_PG_DIR"; fi
  local pgdir=$_PIXELFORGE_PG_DIR
  trap stop_test_postgres EXIT

  if ! "${_PIXELFORGE_PG_AS[@]}" "$_PIXELFORGE_PG_BIN/initdb" -D "$pgdir/data" -U pixelforge --auth=trust \
    -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1; then
    cat "$pgdir/initdb.log" >&2
    stop_test_postgres
    _pixelforge_pg_fail "initdb failed"
    return
  fi
  # fsync/full_page_writes/synchronous_commit off: a throwaway cluster, speed over durability.
  if ! "${_PIXELFORGE_PG_AS[@]}" "$_PIXELFORGE_PG_BIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/data/server.log" -w \
    -o "-c listen_addresses='' -k $pgdir -c max_connections=250 -c fsync=off -c full_page_writes=off \
-c synchronous_commit=off" start >/dev/null; then
    cat "$pgdir/data/server.log" >&2 || true
    stop_test_postgres
    _pixelforge_pg_fail "the server did not start"
    return
  fi
  if ! "${_PIXELFORGE_PG_AS[@]}" "$_PIXELFORGE_PG_BIN/createdb" -h "$pgdir" -U pixelforge pixelforge_test; then
    stop_test_postgres
    _pixelforge_pg_fail "createdb failed"
    return
  fi
  export PIXELFORGE_TEST_POSTGRES_URL="postgresql+psycopg://pixelforge@/pixelforge_test?host=$pgdir"
  echo "postgres.sh: throwaway PostgreSQL at $PIXELFORGE_TEST_POSTGRES_URL" >&2
}
