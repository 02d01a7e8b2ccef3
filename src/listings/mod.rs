//! Listings (the `properties` table): agency staff create, edit and retire them; everyone
//! signed in browses and searches the active ones. Each use case takes the [`Core`], the
//! caller and a typed request and returns a typed result; `crate::http::properties` only
//! extracts, calls one of them and responds.
//!
//! Invariants:
//! - **Seeing** a listing: anyone signed in when it is `active`, otherwise only the staff of
//!   its agency; anyone else gets 404 ([`access::can_see`], which also decides who may
//!   download a listing's photos).
//! - **Changing** one (edit, retire, photos): its own agent or an admin of its agency; another
//!   agency's listing is 404, a colleague's 403 for an agent ([`access::check_manage`]).
//! - Listings are never deleted: they are retired by setting their status to `inactive` or
//!   `sold`.
//! - Every field is validated before anything is written, and all field errors are reported
//!   at once ([`validate::Check`]). Text is stored trimmed and only ever returned as JSON,
//!   never rendered.
//!
//! Layout: [`access`] (who may see, change and own a listing), [`validate`] (field limits and
//! checks), [`dto`] (a listing as returned, with its photos), [`browse`] (one listing, and
//! search pages with a cursor), [`write`](mod@write) (create, update), [`photos`] (attach,
//! detach, who may download).
//!
//! [`Core`]: crate::core::Core

pub mod access;
pub mod browse;
pub mod dto;
pub mod photos;
pub mod validate;
pub mod write;

pub use access::can_see;
