#!/usr/bin/env bash
# Rotates a PostgreSQL role's password when the Seecret link that carried it is consumed, and
# shares the new password as a fresh link. Run by `seecret listen --exec rotate.sh`, which passes
# the event in SEECRET_* variables (see README.md).
#
# Label convention: a secret labelled `pg-role:NAME` carries the password of role NAME. Other
# labels are left alone (exit 0). The new link is labelled `rotated pg-role:NAME`, so reading it
# does not rotate again.
#
# The new password never appears in an argument list or a log: it goes to seecret on stdin, and
# PostgreSQL receives only its SCRAM-SHA-256 verifier, computed here, in SQL sent on psql's stdin.
set -euo pipefail

say() { printf 'rotate-postgres: %s\n' "$*" >&2; }

label=${SEECRET_LABEL:-}
if [[ $label != pg-role:* ]]; then
    say "event ${SEECRET_EVENT_ID:-?}: label is not pg-role:NAME; nothing to rotate"
    exit 0
fi
role=${label#pg-role:}
# PostgreSQL role names: 1–63 bytes. Quoted with %I below whatever they hold; this only refuses
# what cannot be a role.
if [[ -z $role || ${#role} -gt 63 || $role == *[[:cntrl:]]* ]]; then
    say "event ${SEECRET_EVENT_ID:-?}: '$label' does not name a role"
    exit 1
fi

links=${ROTATE_LINKS_FILE:?set ROTATE_LINKS_FILE: the file the new links are appended to}
seecret=${SEECRET_BIN:-seecret}
umask 077
# Checked before anything changes: a rotation whose link cannot be kept would lock the role out.
: >>"$links"

# 32 characters from [A-Za-z0-9]: about 190 bits, and nothing that needs quoting anywhere.
pw=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
[[ ${#pw} -eq 32 ]] || { say "could not generate a password"; exit 1; }

# SCRAM-SHA-256 verifier (RFC 7677, as PostgreSQL stores it), so that the plaintext password is
# never sent to the server, where statement logging could keep it.
verifier=$(printf %s "$pw" | python3 -c '
import base64, hashlib, hmac, os, sys
pw = sys.stdin.buffer.read()
salt, it = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", pw, salt, it)
client = hmac.new(salted, b"Client Key", "sha256").digest()
server = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"SCRAM-SHA-256${it}:{b64(salt)}${b64(hashlib.sha256(client).digest())}:{b64(server)}")
')
[[ $verifier =~ ^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$ ]] ||
    { say "could not compute the SCRAM verifier"; exit 1; }

# Share first: if sharing fails, the role keeps its password and the server retries the event.
link=$(printf %s "$pw" | "$seecret" share --label "rotated pg-role:$role" \
    --expires "${ROTATE_EXPIRES:-7d}")
unset pw

# The role name reaches SQL only through format('%I'); the verifier is checked above to hold
# no quote. psql connects with PG* variables (or ROTATE_DATABASE_URL; keep its password in
# PGPASSWORD or ~/.pgpass, not in the URL, which would be in psql's argument list).
conn=()
[[ -n ${ROTATE_DATABASE_URL:-} ]] && conn=("$ROTATE_DATABASE_URL")
if ! psql -X -q -v ON_ERROR_STOP=1 -v role="$role" "${conn[@]}" >/dev/null <<SQL
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', '$verifier') \gexec
SQL
then
    say "event ${SEECRET_EVENT_ID:-?}: ALTER ROLE failed; burning the new link"
    "$seecret" burn "$link" >/dev/null 2>&1 || say "could not burn the new link"
    exit 1
fi

printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$role" "$link" >>"$links"
say "event ${SEECRET_EVENT_ID:-?}: rotated role $role; new link appended to ROTATE_LINKS_FILE"
