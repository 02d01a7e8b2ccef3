-- Docker Swarm: the node each link's session is pinned to (its login volume lives there).
create table link_placements (
    link_id uuid primary key
        constraint link_placements_link_fkey references whatsapp_links (id) on delete cascade,
    node_id text not null,
    placed_at timestamptz not null default now(),
    -- Moved off a drained node without a shared volume driver: its login stayed behind.
    moved_from text
);
create index link_placements_node_idx on link_placements (node_id);
