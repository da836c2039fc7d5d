-- 001_core: connections, groups, memberships, the per-group outbox, the
-- per-connection queue, and the MeetingHub's meetings with the triggers that
-- turn every change of a meeting into a push for its group.
--
-- Applied by deploy/scripts/migrate.sh inside one transaction. Its functions and
-- the trigger are in sql/functions/ (10_meetings.sql, 20_connections.sql, ...).

CREATE SCHEMA IF NOT EXISTS pollhub;

-- A group's last_seq is taken under the group row's lock, held until commit,
-- so within one group sequence order is commit order: a member's cursor can
-- never step over a row whose transaction commits later.
CREATE TABLE pollhub.groups (
	name		text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 256),
	last_seq	bigint NOT NULL DEFAULT 0
);

-- One row per SignalR connection. Looked up by token (secret); id is public.
CREATE TABLE pollhub.connections (
	id		text PRIMARY KEY,
	token		text NOT NULL UNIQUE,
	group_name	text NOT NULL CHECK (length(group_name) BETWEEN 1 AND 256),
	transport	text CHECK (transport IN ('LongPolling', 'ServerSentEvents')),
	state		text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closing')),
	handshaken	boolean NOT NULL DEFAULT false,
	poll_no		bigint NOT NULL DEFAULT 0,	-- bumped by every poll; a newer poll supersedes
	poll_active	boolean NOT NULL DEFAULT false,
	inbound		bytea NOT NULL DEFAULT '',	-- an incomplete record carried to the next POST
	remote_addr	text,
	user_agent	text,
	connected_at	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_last_seen ON pollhub.connections (last_seen);

CREATE TABLE pollhub.memberships (
	connection_id	text NOT NULL REFERENCES pollhub.connections (id) ON DELETE CASCADE,
	group_name	text NOT NULL REFERENCES pollhub.groups (name),
	cursor		bigint NOT NULL,	-- last group seq given to this connection
	PRIMARY KEY (connection_id, group_name)
);
CREATE INDEX memberships_group ON pollhub.memberships (group_name);

-- One row per push per group; deleted once every member is past it.
CREATE TABLE pollhub.outbox (
	group_name	text NOT NULL REFERENCES pollhub.groups (name),
	seq		bigint NOT NULL,
	sender		text,		-- connection that caused it: never sent back to it
	payload		text NOT NULL,	-- one hub record without the 0x1E terminator
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (group_name, seq)
);

-- Completions, handshake answers and Close messages for one connection.
-- Written by one transaction at a time per connection, so id order is commit
-- order. (Corrected after the fact, comments only: writers no longer lock the
-- connection row; they take its send lock, pollhub.send_lock. The rule as it
-- stands is in sql/functions/20_connections.sql.)
CREATE TABLE pollhub.connection_messages (
	id		bigserial PRIMARY KEY,
	connection_id	text NOT NULL REFERENCES pollhub.connections (id) ON DELETE CASCADE,
	payload		text NOT NULL
);
CREATE INDEX connection_messages_conn ON pollhub.connection_messages (connection_id, id);

CREATE TABLE pollhub.meetings (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	group_name		text NOT NULL,
	title			text NOT NULL DEFAULT '',
	description		text,
	start_at		timestamptz NOT NULL,
	end_at			timestamptz NOT NULL,
	start_timezone		text,
	end_timezone		text,
	is_all_day		boolean NOT NULL DEFAULT false,
	room_id			integer,
	recurrence_rule		text,
	recurrence_id		uuid,
	recurrence_exception	text,
	attendees		integer[] NOT NULL DEFAULT '{}',
	created_at		timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
	CONSTRAINT meetings_end_after_start CHECK (end_at >= start_at),
	CONSTRAINT meetings_id_group UNIQUE (id, group_name),
	-- An exception of a recurring meeting belongs to the head's group; deleting
	-- the head deletes its exceptions (and the trigger pushes each destroy).
	CONSTRAINT meetings_recurrence FOREIGN KEY (recurrence_id, group_name)
		REFERENCES pollhub.meetings (id, group_name) ON DELETE CASCADE
);
CREATE INDEX meetings_group_start ON pollhub.meetings (group_name, start_at);
