-- The audit log's filters (GET /api/v1/admin/audit), each read newest first by id: every
-- entry about one target (a link, a user, a report, …), and an action exact or by prefix
-- (`link.`; `text_pattern_ops` lets `like 'link.%'` use the index in any collation). The
-- actor has its index since the start (audit_log_actor_idx); the time range uses
-- audit_log_time_idx.
create index audit_log_target_idx on audit_log (target_id, id desc) where target_id is not null;
create index audit_log_action_idx on audit_log (action text_pattern_ops, id desc);
