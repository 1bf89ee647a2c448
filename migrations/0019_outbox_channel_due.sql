-- The dispatcher reads each channel's due rows in due order (src/store/outbox.rs, the claim):
-- pending rows by channel and due time. It replaces the index on the due time alone, which
-- nothing else read, so an outbox write maintains as many indexes as before. (Only an index
-- goes: the previous release's statements run unchanged, planned on this one.)
create index outbox_channel_due_idx on outbox (channel, due_at) where status = 'pending';
drop index outbox_pending_idx;
