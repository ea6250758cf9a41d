#!/bin/sh
# Entry point for the Alertmanager container: writes the notification secrets
# from the environment into the files alertmanager.yml reads, then runs the
# command given (Alertmanager). A secret already mounted as a file is kept
# when its variable is unset; use one or the other for each secret (a variable
# cannot overwrite a file mounted read-only).
#
#   ALERTMANAGER_PAGERDUTY_ROUTING_KEY -> $ALERTMANAGER_SECRETS_DIR/pagerduty_routing_key
#   ALERTMANAGER_SLACK_WEBHOOK_URL     -> $ALERTMANAGER_SECRETS_DIR/slack_webhook_url
#   ALERTMANAGER_SECRETS_DIR           default /etc/alertmanager/secrets
#
# Usage: write-secrets.sh alertmanager --config.file=/etc/alertmanager/alertmanager.yml
set -eu
secrets_dir="${ALERTMANAGER_SECRETS_DIR:-/etc/alertmanager/secrets}"
umask 077
mkdir -p "$secrets_dir" 2>/dev/null || true
write_secret() { # write_secret FILE VALUE
    printf '%s' "$2" >"$secrets_dir/$1" ||
        { echo "write-secrets: cannot write $secrets_dir/$1 (mounted read-only?)" >&2; exit 1; }
}
if [ -n "${ALERTMANAGER_PAGERDUTY_ROUTING_KEY:-}" ]; then
    write_secret pagerduty_routing_key "$ALERTMANAGER_PAGERDUTY_ROUTING_KEY"
fi
if [ -n "${ALERTMANAGER_SLACK_WEBHOOK_URL:-}" ]; then
    write_secret slack_webhook_url "$ALERTMANAGER_SLACK_WEBHOOK_URL"
fi
for secret in pagerduty_routing_key slack_webhook_url; do
    [ -s "$secrets_dir/$secret" ] || echo "write-secrets: warning: $secrets_dir/$secret is missing or empty" >&2
done
exec "$@"
