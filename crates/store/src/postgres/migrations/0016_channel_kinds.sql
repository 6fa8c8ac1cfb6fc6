-- Telegram and the web chat beside WhatsApp. The channel columns were named for
-- WhatsApp; each kind keeps its credentials in them as decode::channel reads
-- them (a Telegram bot's id, secret token, bot token and API URL; a web
-- chat's own id and signing key), and what fits no column in `settings`
-- (a web chat's allowed origins). The unique (kind, phone_number_id) key
-- then means one channel per WhatsApp number, per Telegram bot, per web chat.

alter table channels add column settings jsonb not null default '{}';
