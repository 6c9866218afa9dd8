#!/usr/bin/env bash
# Mails each new hire a one-time link to their initial password.
#
#   new-hire.sh hires.csv
#
# hires.csv: a header row, then one row per person, with at least the columns `email` and
# `password` (other columns are kept). Needs `seecret` and `mail` on PATH, and SEECRET_SERVER and
# SEECRET_TOKEN (or SEECRET_TOKEN_FILE) in the environment. The CSV of passwords is deleted once
# every link is made; nothing is mailed unless every link was made.
set -euo pipefail

hires=${1:?usage: new-hire.sh hires.csv}
links=$(mktemp)
trap 'rm -f "$links"' EXIT

# All or nothing: on any refusal seecret burns what it made and prints nothing.
seecret share --batch "$hires" --column password --label-column email \
  --expires 72h --views 1 >"$links"

# The passwords are now only inside the links.
if command -v shred >/dev/null; then shred -u "$hires"; else rm -f "$hires"; fi

# Read the links CSV with a real CSV parser (names may hold commas or quotes).
python3 - "$links" <<'PY' | while IFS=$'\t' read -r email url; do
import csv, sys
with open(sys.argv[1], newline="") as f:
    for row in csv.DictReader(f):
        print(f"{row['email']}\t{row['url']}")
PY
  printf 'Welcome aboard!\n\nYour initial password is behind this link. It opens once and expires in 72 hours:\n\n%s\n\nChange the password when you first sign in.\n' "$url" |
    mail -s "Your initial password" "$email"
  echo "mailed $email" >&2
done
