-- touch() locked connection rows in whatever order the UPDATE met them, and
-- drain_many() locks them in id order: the two could deadlock (seen under
-- make bench). Lock in id order here too.
CREATE OR REPLACE FUNCTION pollhub.touch(p_ids text[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE pollhub.connections c SET last_seen = now()
	  FROM (SELECT id FROM pollhub.connections
		 WHERE id = ANY(p_ids) AND poll_active
		 ORDER BY id FOR UPDATE) l
	 WHERE c.id = l.id
$$;
