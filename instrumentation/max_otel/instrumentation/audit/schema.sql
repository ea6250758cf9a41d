-- The audit trail of Max: conversation_events, append-only and hash-chained.
--
-- Run by the table OWNER (the migration role), never by the application:
--     max-otel audit install --database-url postgresql://owner@host/db --app-role max_app
-- which substitutes {{app_role}} (a validated, quoted role name) and runs this file in one
-- transaction. It is idempotent: running it again upgrades the functions and triggers and
-- keeps every row.
--
-- What the database enforces:
--   * the application role may only INSERT the six descriptive columns and SELECT; it has no
--     UPDATE, DELETE, TRUNCATE or ownership, so it cannot change or remove a row, nor drop or
--     detach a partition;
--   * triggers refuse UPDATE, DELETE and TRUNCATE for everyone, the owner included;
--   * the BEFORE INSERT trigger assigns id, prev_hash and row_hash itself (whatever the
--     inserter sent), under a row lock on the month's chain head, so the chain has one order.
--     (A session can set the max_audit.* settings the triggers use; doing so can only break
--     its own new links, which `audit verify` reports; it cannot change or hide a row.)
-- What it cannot enforce: a superuser (or the owner) can disable triggers or rewrite rows.
-- `max-otel audit verify` recomputes every hash and finds such changes (see docs/audit.md).

CREATE SEQUENCE IF NOT EXISTS conversation_events_id_seq AS bigint;

CREATE TABLE IF NOT EXISTS conversation_events (
    -- Assigned by the chain trigger (in chain order); never by the inserter.
    id              bigint      NOT NULL,
    event_type      text        NOT NULL CHECK (event_type <> ''),
    actor_type      text        NOT NULL CHECK (actor_type <> ''),
    actor_id        text,
    conversation_id text,
    old_value       jsonb,
    new_value       jsonb,
    -- The partition key: the application cannot set it (column privileges below).
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    prev_hash       text        NOT NULL,
    row_hash        text        NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- "Get full audit trail for conversation" and "what did this user do in this period".
CREATE INDEX IF NOT EXISTS conversation_events_conversation_idx
    ON conversation_events (conversation_id, created_at);
CREATE INDEX IF NOT EXISTS conversation_events_actor_idx
    ON conversation_events (actor_id, created_at);

-- One row per month: the end of that month's chain. Only the chain trigger writes here.
CREATE TABLE IF NOT EXISTS conversation_events_chain_heads (
    chain_month date   PRIMARY KEY,
    last_id     bigint,
    last_hash   text   NOT NULL,
    row_count   bigint NOT NULL
);

-- What `max-otel audit archive` exported and dropped; append-only like the events.
CREATE TABLE IF NOT EXISTS conversation_events_archive_log (
    chain_month    date        PRIMARY KEY,
    partition_name text        NOT NULL,
    file_name      text        NOT NULL,
    file_sha256    text        NOT NULL,
    row_count      bigint      NOT NULL,
    first_id       bigint,
    last_id        bigint,
    last_row_hash  text        NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    archived_by    text        NOT NULL DEFAULT current_user
);

-- Refuses UPDATE, DELETE and TRUNCATE, whoever asks.
CREATE OR REPLACE FUNCTION conversation_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows are never changed; old months are removed only by '
                     '`max-otel audit archive`';
END
$$;

-- Chains each new row to the previous row of its month, in one order. The first row a
-- transaction writes in a month locks that month's head row (FOR UPDATE) until the
-- transaction ends, so chains never fork; the id is taken after the lock, so ids grow in chain
-- order. Within the transaction the running end of the chain is carried in a
-- transaction-local setting (max_audit.chain_YYYYMM = "id:hash:count"), and the head row is
-- written once per statement by conversation_events_chain_head(): updating the same row for
-- every row of a bulk insert would make a long transaction quadratic. See _chain.py for the
-- canonical form, which must stay byte-for-byte the same as here.
CREATE OR REPLACE FUNCTION conversation_events_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    month date := date_trunc('month', NEW.created_at AT TIME ZONE 'UTC')::date;
    slot text := 'max_audit.chain_' || to_char(month, 'YYYYMM');
    carried text := current_setting(slot, true);
    touched text := coalesce(current_setting('max_audit.touched', true), '');
    previous text;
    written bigint;
    canonical text;
BEGIN
    IF carried IS NULL OR carried = '' THEN
        INSERT INTO public.conversation_events_chain_heads
            (chain_month, last_id, last_hash, row_count)
        VALUES (month, NULL, repeat('0', 64), 0)
        ON CONFLICT (chain_month) DO NOTHING;
        SELECT last_hash, row_count INTO previous, written
          FROM public.conversation_events_chain_heads
         WHERE chain_month = month
           FOR UPDATE;
    ELSE
        previous := split_part(carried, ':', 2);
        written := split_part(carried, ':', 3)::bigint;
    END IF;
    NEW.id := nextval('public.conversation_events_id_seq');
    NEW.prev_hash := previous;
    canonical := '['
        || NEW.id::text || ','
        || to_json(to_char(NEW.created_at AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text || ','
        || to_json(NEW.event_type)::text || ','
        || to_json(NEW.actor_type)::text || ','
        || coalesce(to_json(NEW.actor_id)::text, 'null') || ','
        || coalesce(to_json(NEW.conversation_id)::text, 'null') || ','
        || coalesce(to_json(NEW.old_value::text)::text, 'null') || ','
        || coalesce(to_json(NEW.new_value::text)::text, 'null')
        || ']';
    NEW.row_hash := encode(sha256(convert_to(previous || canonical, 'UTF8')), 'hex');
    PERFORM set_config(slot, NEW.id || ':' || NEW.row_hash || ':' || (written + 1), true);
    IF position(month::text IN touched) = 0 THEN
        PERFORM set_config('max_audit.touched', touched || month::text || ',', true);
    END IF;
    RETURN NEW;
END
$$;

-- Writes the end of each chain this transaction extended into its head row, once per
-- statement (idempotent: the values are absolute, so firing twice changes nothing).
CREATE OR REPLACE FUNCTION conversation_events_chain_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    month text;
    carried text;
BEGIN
    FOREACH month IN ARRAY string_to_array(
        rtrim(coalesce(current_setting('max_audit.touched', true), ''), ','), ',')
    LOOP
        carried := current_setting('max_audit.chain_' || to_char(month::date, 'YYYYMM'), true);
        CONTINUE WHEN carried IS NULL OR carried = '';
        UPDATE public.conversation_events_chain_heads
           SET last_id = split_part(carried, ':', 1)::bigint,
               last_hash = split_part(carried, ':', 2),
               row_count = split_part(carried, ':', 3)::bigint
         WHERE chain_month = month::date
           AND last_id IS DISTINCT FROM split_part(carried, ':', 1)::bigint;
    END LOOP;
    RETURN NULL;
END
$$;

-- Creates the monthly partitions [first_month, first_month + months) that do not exist yet,
-- each with the TRUNCATE guard (a statement trigger on the parent does not fire when a
-- partition is truncated directly). Returns the names it created. The application may call
-- it, so a write in a month nobody prepared still lands (see store.py).
CREATE OR REPLACE FUNCTION conversation_events_create_partitions(first_month date, months integer)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    month date;
    name text;
BEGIN
    IF months < 1 OR months > 120 THEN
        RAISE EXCEPTION 'months must be between 1 and 120; got %', months;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('conversation_events_create_partitions'));
    FOR i IN 0 .. months - 1 LOOP
        month := (date_trunc('month', first_month) + make_interval(months => i))::date;
        name := 'conversation_events_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM');
        CONTINUE WHEN to_regclass('public.' || quote_ident(name)) IS NOT NULL;
        EXECUTE format(
            'CREATE TABLE public.%I PARTITION OF public.conversation_events '
            'FOR VALUES FROM (%L) TO (%L)',
            name, month::text || ' 00:00:00+00',
            (month + interval '1 month')::date::text || ' 00:00:00+00');
        EXECUTE format(
            'CREATE TRIGGER conversation_events_no_truncate BEFORE TRUNCATE ON public.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION public.conversation_events_refuse_change()',
            name);
        -- An insert straight into the partition (owner only) moves the head too.
        EXECUTE format(
            'CREATE TRIGGER conversation_events_chain_head AFTER INSERT ON public.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION public.conversation_events_chain_head()',
            name);
        RETURN NEXT name;
    END LOOP;
END
$$;

DROP TRIGGER IF EXISTS conversation_events_chain ON conversation_events;
CREATE TRIGGER conversation_events_chain BEFORE INSERT ON conversation_events
    FOR EACH ROW EXECUTE FUNCTION conversation_events_chain();
DROP TRIGGER IF EXISTS conversation_events_chain_head ON conversation_events;
CREATE TRIGGER conversation_events_chain_head AFTER INSERT ON conversation_events
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_events_chain_head();
DROP TRIGGER IF EXISTS conversation_events_no_change ON conversation_events;
CREATE TRIGGER conversation_events_no_change BEFORE UPDATE OR DELETE ON conversation_events
    FOR EACH ROW EXECUTE FUNCTION conversation_events_refuse_change();
DROP TRIGGER IF EXISTS conversation_events_no_truncate ON conversation_events;
CREATE TRIGGER conversation_events_no_truncate BEFORE TRUNCATE ON conversation_events
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_events_refuse_change();

-- The heads only move forward through the chain trigger: no DELETE or TRUNCATE.
DROP TRIGGER IF EXISTS conversation_events_chain_heads_no_delete ON conversation_events_chain_heads;
CREATE TRIGGER conversation_events_chain_heads_no_delete
    BEFORE DELETE ON conversation_events_chain_heads
    FOR EACH ROW EXECUTE FUNCTION conversation_events_refuse_change();
DROP TRIGGER IF EXISTS conversation_events_chain_heads_no_truncate ON conversation_events_chain_heads;
CREATE TRIGGER conversation_events_chain_heads_no_truncate
    BEFORE TRUNCATE ON conversation_events_chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_events_refuse_change();

DROP TRIGGER IF EXISTS conversation_events_archive_log_no_change ON conversation_events_archive_log;
CREATE TRIGGER conversation_events_archive_log_no_change
    BEFORE UPDATE OR DELETE ON conversation_events_archive_log
    FOR EACH ROW EXECUTE FUNCTION conversation_events_refuse_change();
DROP TRIGGER IF EXISTS conversation_events_archive_log_no_truncate ON conversation_events_archive_log;
CREATE TRIGGER conversation_events_archive_log_no_truncate
    BEFORE TRUNCATE ON conversation_events_archive_log
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_events_refuse_change();

-- Privileges: functions are executable by PUBLIC unless revoked.
REVOKE ALL ON FUNCTION conversation_events_chain() FROM PUBLIC;
REVOKE ALL ON FUNCTION conversation_events_chain_head() FROM PUBLIC;
REVOKE ALL ON FUNCTION conversation_events_refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION conversation_events_create_partitions(date, integer) FROM PUBLIC;
REVOKE ALL ON conversation_events, conversation_events_chain_heads,
              conversation_events_archive_log, conversation_events_id_seq FROM PUBLIC;

REVOKE ALL ON conversation_events, conversation_events_chain_heads,
              conversation_events_archive_log, conversation_events_id_seq FROM {{app_role}};
GRANT INSERT (event_type, actor_type, actor_id, conversation_id, old_value, new_value)
    ON conversation_events TO {{app_role}};
GRANT SELECT ON conversation_events, conversation_events_chain_heads,
                conversation_events_archive_log TO {{app_role}};
GRANT EXECUTE ON FUNCTION conversation_events_create_partitions(date, integer) TO {{app_role}};
