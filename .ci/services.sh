#!/usr/bin/env bash
# Starts the services the backend tests need, on loopback only, and writes their addresses to
# .ci/services.env for `source`:
#
#   - PostgreSQL (trust auth on 127.0.0.1, a throwaway cluster in a temp dir)
#   - an S3-compatible server (moto_server)
#
# Idempotent: what is already installed is not installed again, and a service that already
# answers is reused. Every wait is bounded. Run it as root (as CI does) or as a normal user.
#
# Knobs (environment): SEUIL_CI_PG_PORT (55432), SEUIL_CI_PG_DIR (/tmp/seuil-ci-pg),
# SEUIL_CI_PG_DB (seuil_test), SEUIL_CI_S3_PORT (59000), SEUIL_CI_S3_BUCKET (seuil-test),
# SEUIL_CI_SERVICES_ENV (.ci/services.env).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pg_port="${SEUIL_CI_PG_PORT:-55432}"
pg_dir="${SEUIL_CI_PG_DIR:-/tmp/seuil-ci-pg}"
pg_db="${SEUIL_CI_PG_DB:-seuil_test}"
s3_port="${SEUIL_CI_S3_PORT:-59000}"
s3_bucket="${SEUIL_CI_S3_BUCKET:-seuil-test}"
env_file="${SEUIL_CI_SERVICES_ENV:-$here/services.env}"
s3_dir="${SEUIL_CI_S3_DIR:-/tmp/seuil-ci-s3}"

log() { printf 'services: %s\n' "$*" >&2; }
die() {
    printf 'services: error: %s\n' "$*" >&2
    exit 1
}

# ---- PostgreSQL ---------------------------------------------------------------------------

pg_bin_dir() {
    local d
    # The newest installed major version.
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
        printf '%s\n' "$d"
    fi
}

pg_bin="$(pg_bin_dir)"
if [[ -z "$pg_bin" ]]; then
    [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
    log "PostgreSQL not found under /usr/lib/postgresql: installing it"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    pg_bin="$(pg_bin_dir)"
    [[ -n "$pg_bin" ]] || die "apt-get installed postgresql but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
fi

# initdb and the server refuse to run as root: run them as the `postgres` user then.
if [[ $EUID -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        log "creating the system user postgres"
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    as_pg() { runuser -u postgres -- "$@"; }
    pg_owner=postgres
else
    as_pg() { "$@"; }
    pg_owner="$(id -un)"
fi

pg_ready() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -t 2 >/dev/null 2>&1; }

if pg_ready; then
    log "PostgreSQL already answers on 127.0.0.1:$pg_port: reusing it"
else
    mkdir -p "$pg_dir"
    chown "$pg_owner" "$pg_dir"
    chmod 700 "$pg_dir"
    data="$pg_dir/data"
    if [[ ! -s "$data/PG_VERSION" ]]; then
        log "initdb in $data"
        rm -rf "$data"
        as_pg "$pg_bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 ||
            as_pg "$pg_bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1 ||
            die "initdb failed; see $pg_dir/initdb.log"
    fi
    # Loopback only, trust auth (initdb -A trust), socket in the data's parent dir. The cluster
    # is throwaway, so durability is traded for speed.
    log "starting PostgreSQL on 127.0.0.1:$pg_port"
    as_pg "$pg_bin/pg_ctl" -D "$data" -l "$pg_dir/server.log" -w -t 60 start \
        -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null || {
        tail -n 20 "$pg_dir/server.log" >&2 || true
        die "PostgreSQL did not start; see $pg_dir/server.log (is port $pg_port taken?)"
    }
    for _ in $(seq 1 60); do
        pg_ready && break
        sleep 0.5
    done
    pg_ready || die "PostgreSQL started but does not answer on 127.0.0.1:$pg_port after 30 s"
fi

psql_pg() { as_pg "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
if [[ "$(psql_pg -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$pg_db'")" != 1 ]]; then
    log "creating database $pg_db"
    psql_pg -d postgres -c "CREATE DATABASE \"$pg_db\""
fi

# ---- S3 (moto) ------------------------------------------------------------------------------

s3_url="http://127.0.0.1:$s3_port"
s3_ready() { curl -s -o /dev/null --max-time 2 "$s3_url/" 2>/dev/null; }

if s3_ready; then
    log "an S3 server already answers on $s3_url: reusing it"
else
    if ! command -v moto_server >/dev/null 2>&1; then
        log "moto_server not found: installing moto[server] with pip"
        python3 -m pip install --quiet 'moto[server]' || die "could not install moto[server] with pip"
        command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
        command -v moto_server >/dev/null 2>&1 || die "moto[server] is installed but moto_server is not on PATH"
    fi
    mkdir -p "$s3_dir"
    log "starting moto_server on $s3_url"
    # Detached from this shell so it outlives the script; its pid goes to a file for stopping.
    setsid nohup moto_server -H 127.0.0.1 -p "$s3_port" >"$s3_dir/moto.log" 2>&1 </dev/null &
    echo $! >"$s3_dir/moto.pid"
    for _ in $(seq 1 60); do
        s3_ready && break
        sleep 0.5
    done
    s3_ready || {
        tail -n 20 "$s3_dir/moto.log" >&2 || true
        die "moto_server does not answer on $s3_url after 30 s; see $s3_dir/moto.log"
    }
fi

# Create the bucket (moto answers 200, or 409 when it exists already; both are fine).
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT "$s3_url/$s3_bucket" || true)"
case "$code" in
200 | 409) ;;
*) die "could not create bucket $s3_bucket on $s3_url (HTTP $code)" ;;
esac

# ---- addresses ------------------------------------------------------------------------------

cat >"$env_file" <<EOF
export SEUIL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/$pg_db
export SEUIL_TEST_S3_ENDPOINT=$s3_url
export SEUIL_TEST_S3_BUCKET=$s3_bucket
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
EOF
cat "$env_file"
log "ready; wrote $env_file (source it)"
