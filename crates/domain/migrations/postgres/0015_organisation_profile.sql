-- What an organisation's administrators keep about it besides its name: the support footer its
-- mails end with (empty: none), its address (prefills certificate applications), and the time
-- zone its visible signatures print their time in (an IANA name; Japan until changed).

ALTER TABLE organisations ADD COLUMN mail_footer TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN postal_code TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN prefecture TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN street TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN building TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Tokyo';
