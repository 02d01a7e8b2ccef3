-- Internal notes reached buyers' stored event streams before visibility was decided per
-- viewer: drop those events (replay and notifications read these streams), and point read
-- receipts that named a note at nothing. Sequence gaps are harmless: sockets skip them.
delete from user_events e
using users u
where u.id = e.user_id and u.role = 'buyer'
  and e.kind in ('message.created', 'message.updated')
  and e.payload -> 'message' ->> 'kind' = 'note';

update user_events e
set payload = jsonb_set(e.payload, '{up_to}', 'null'::jsonb)
from users u
where u.id = e.user_id and u.role = 'buyer'
  and e.kind = 'read'
  and exists (select 1 from messages m
              where m.internal and m.id::text = e.payload ->> 'up_to');

-- A buyer's own read marker never names a note either.
update conversation_reads r
set last_read_message_id = (
    select m2.id from messages m2, messages n
    where n.id = r.last_read_message_id and m2.conversation_id = n.conversation_id
      and not m2.internal and (m2.sent_at, m2.id) <= (n.sent_at, n.id)
    order by m2.sent_at desc, m2.id desc limit 1)
from users u, messages m
where u.id = r.user_id and u.role = 'buyer'
  and m.id = r.last_read_message_id and m.internal;
