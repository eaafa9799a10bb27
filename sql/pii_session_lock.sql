-- First statement of a transaction that assigns placeholders in one session
-- (sql/pii_placeholders_assign.sql): two submits of the same session number
-- their new values one after the other, never both as [EMAIL_2]. Advisory, and
-- taken by nothing else, so it joins no cycle with row locks (sql/LOCK_ORDER.md);
-- a key collision between two sessions only serialises their assignments.
SELECT pg_advisory_xact_lock(hashtextextended(:business_id::text || '/' || :session_id::text, 21))::text AS locked
