-- 018_meetinghub: MeetingHub written in SQL (issue 21). Its methods are the
-- functions of the schema meetinghub (017_hubs.sql made it and its row of
-- pollhub.hubs), defined in sql/functions/80_meetinghub.sql.
--
-- A meeting as the hub sends it: the row type of read, a query method. Its
-- columns are the fields a client may filter and sort on, named as Kendo's
-- DataSource names them, in the order pollhub.meeting_json writes them: the
-- responder sends each row as json_build_object of its columns in this order
-- (instants through pollhub.iso_utc), the same JSON as meeting_json's. Add a
-- column here and to meeting_json together.
CREATE TYPE meetinghub.meeting AS (
	"ID"			uuid,
	"Title"			text,
	"Description"		text,
	"Start"			timestamptz,
	"End"			timestamptz,
	"StartTimezone"		text,
	"EndTimezone"		text,
	"IsAllDay"		boolean,
	"RoomID"		integer,
	"RecurrenceRule"	text,
	"RecurrenceID"		uuid,
	"RecurrenceException"	text,
	"Attendees"		integer[],
	"CreatedAt"		timestamptz
);
