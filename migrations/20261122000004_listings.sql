-- Listings: browsing, full-text search and photos.
--
-- `search` is a generated tsvector over title, description, address and city in three
-- configurations: 'simple' (every word as written, lower-cased: names, places, any language),
-- 'spanish' and 'english' (stemmed, so "casas" finds "casa" and "apartments" finds
-- "apartment"). A query ORs the three parsings of the search text, so a listing matches when
-- every word of the text matches under at least one configuration.
--
-- Browsing is keyset-paginated newest first on (created_at, id); the partial indexes serve the
-- public view (active listings only), the per-agent view and the city filter.

alter table properties
    add column search tsvector generated always as (
        to_tsvector('simple'::regconfig, title || ' ' || description || ' ' || address || ' ' || city)
        || to_tsvector('spanish'::regconfig, title || ' ' || description || ' ' || address || ' ' || city)
        || to_tsvector('english'::regconfig, title || ' ' || description || ' ' || address || ' ' || city)
    ) stored,
    add constraint properties_city_check check (char_length(city) between 1 and 100),
    add constraint properties_address_check check (char_length(address) <= 300);

create index properties_search_idx on properties using gin (search);
create index properties_active_recent_idx on properties (created_at desc, id desc) where status = 'active';
create index properties_active_city_idx on properties (lower(city), created_at desc, id desc) where status = 'active';
create index properties_agent_recent_idx on properties (agent_id, created_at desc, id desc);

-- Serving a file checks whether it is a listing's photo.
create index property_photos_file_idx on property_photos (file_id);
