-- Migration 005: room on every page of the two tables a charge updates, so its update stays on the
-- row's own page (a HOT update: no index is touched). A key row and an account row are rewritten
-- on every charge; packed full (the default fillfactor, 100), most such updates moved the row to
-- another page and added an entry to every index of the table — measured on 1,000,000 keys, 20% of
-- updates were HOT, and with 80 all of them were (bench/RESULTS.md, scale). Takes only a SHARE UPDATE
-- EXCLUSIVE lock (charges go on meanwhile) and applies to pages written from now on; a VACUUM FULL
-- or pg_repack gives existing pages the room at once.
ALTER TABLE {{keys}} SET (fillfactor = 80);
ALTER TABLE {{_accounts}} SET (fillfactor = 80);
